import { describe, expect, it } from 'vitest'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { forgetTaskText, type Task, taskByteLength, taskText } from '../../src/task/task.ts'
import { makeTask } from '../protocol/fixtures.ts'

/** A task whose JSON has multi-byte characters (its UTF-8 longer than its UTF-16 length). */
const wide = (): Task => ({
  ...makeTask(3),
  spec: parseTaskSpec({ type: 'echo', input: { s: 'é€😀'.repeat(50) } }),
})

describe("a task's text and size", () => {
  it('taskText is JSON.stringify, made once per task object', () => {
    const task = wide()
    const text = taskText(task)
    expect(text).toBe(JSON.stringify(task))
    expect(taskText(task)).toBe(text)
  })

  it('taskByteLength is the UTF-8 size of the JSON, with the text made, let go, or never made', () => {
    const bytes = (t: Task) => Buffer.byteLength(JSON.stringify(t))
    const made = wide()
    taskText(made)
    forgetTaskText(made)
    expect(taskByteLength(made)).toBe(bytes(made))
    expect(taskByteLength(made)).toBeGreaterThan(JSON.stringify(made).length)
    const never = wide()
    expect(taskByteLength(never)).toBe(bytes(never))
    const plain = makeTask(4)
    expect(taskByteLength(plain)).toBe(JSON.stringify(plain).length)
  })
})
