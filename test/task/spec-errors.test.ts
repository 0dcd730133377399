import { describe, expect, it } from 'vitest'
import { InvalidTaskError } from '../../src/task/errors.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'

/** The message `parseTaskSpec` refuses `raw` with. */
function refusal(raw: unknown): string {
  try {
    parseTaskSpec(raw)
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidTaskError)
    return (err as Error).message
  }
  throw new Error('the spec was accepted')
}

describe('a refused spec says the value it refused', () => {
  it('quotes a number, a string or a label given out of range or of the wrong type', () => {
    expect(refusal({ type: 'echo', priority: 1001 })).toBe(
      'task.priority: Too big: expected number to be <=1000, got 1001',
    )
    expect(refusal({ type: 'echo', priority: 'high' })).toBe(
      'task.priority: Invalid input: expected number, got "high"',
    )
    expect(refusal({ type: 'echo', timeoutMs: 1.5 })).toBe(
      'task.timeoutMs: Invalid input: expected int, got 1.5',
    )
    expect(refusal({ type: 'Echo!' })).toMatch(/^task\.type: must match .*, got "Echo!"$/)
    expect(refusal({ type: 'echo', resources: { labels: ['GPU'] } })).toMatch(
      /^task\.resources\.labels\[0\]: must match .*, got "GPU"$/,
    )
    expect(refusal({ type: 'echo', dependsOn: [''] })).toMatch(
      /^task\.dependsOn\[0\]: Too small: .*, got ""$/,
    )
  })

  it('shortens a long value to its first characters and its size', () => {
    expect(refusal({ type: 'x'.repeat(200) })).toMatch(/, got "x{60}"… \(200 characters\)$/)
    expect(refusal({ type: 'echo', dependsOn: Array(2000).fill('a') })).toMatch(
      /^task\.dependsOn: Too big: .*, got an array of 2000 items$/,
    )
  })

  it('says a missing field is required, and names an unknown key without a value', () => {
    expect(refusal({})).toBe('task.type: is required: expected string')
    expect(refusal({ type: 'echo', colour: 'red' })).toBe('task: Unrecognized key: "colour"')
  })
})
