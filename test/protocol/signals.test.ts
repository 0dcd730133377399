import { describe, expect, it } from 'vitest'
import { deadlineSignal } from '../../src/protocol/signals.ts'

const aborted = (signal: AbortSignal) =>
  new Promise<unknown>((resolve) =>
    signal.addEventListener('abort', () => resolve(signal.reason), { once: true }),
  )

describe('deadlineSignal', () => {
  it('aborts with a TimeoutError after its deadline', async () => {
    const reason = (await aborted(deadlineSignal(10))) as DOMException
    expect(reason.name).toBe('TimeoutError')
  })

  it('aborts with the reason of another signal that aborts first', async () => {
    const controller = new AbortController()
    const signal = deadlineSignal(60_000, undefined, controller.signal)
    const reason = aborted(signal)
    controller.abort(new Error('stop'))
    expect(((await reason) as Error).message).toBe('stop')
  })

  it('is aborted at once when another signal already is', () => {
    expect(deadlineSignal(60_000, AbortSignal.abort('x')).aborted).toBe(true)
  })
})
