import { describe, expect, it } from 'vitest'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { shareParts, type Task } from '../../src/task/task.ts'
import { makeTask, OWNER } from '../protocol/fixtures.ts'

/** `task` as a peer's frame brings it: every part a copy of its own. */
const decoded = (task: Task): Task => JSON.parse(JSON.stringify(task)) as Task

describe('shareParts (what a custodian keeps of each task)', () => {
  it('points empty lists at one frozen list and the owner at the sender’s string; the task reads the same', () => {
    const base = makeTask(1)
    const bare = { ...base, spec: parseTaskSpec({ type: 'echo', input: { n: 1 } }), submitter: OWNER }
    const [a, b] = [decoded(bare), decoded(bare)]
    const text = JSON.stringify(a)
    expect(a.spec.dependsOn).not.toBe(b.spec.dependsOn)
    shareParts(a, OWNER)
    shareParts(b, OWNER)
    expect(a.spec.dependsOn).toBe(b.spec.dependsOn)
    expect(a.spec.resources.labels).toBe(a.spec.dependsOn)
    expect(Object.isFrozen(a.spec.dependsOn)).toBe(true)
    expect(() => a.spec.dependsOn.push('x')).toThrow(TypeError)
    expect(JSON.stringify(a)).toBe(text)
    expect(a.owner).toBe(OWNER)
    expect(a.submitter).toBe(OWNER)
  })

  it('leaves lists with entries, and another submitter, as they came', () => {
    const t = decoded({ ...makeTask(2), spec: { ...makeTask(2).spec, dependsOn: ['dep'] } })
    const [deps, labels] = [t.spec.dependsOn, t.spec.resources.labels]
    shareParts(t, OWNER)
    expect(t.spec.dependsOn).toBe(deps)
    expect(t.spec.resources.labels).toBe(labels)
    expect(labels).toEqual(['cpu'])
    expect(t.submitter).toBe('client-a')
  })
})
