import { getEventListeners } from 'node:events'
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

  it('leaves no listener on the other signals once it aborted, by its deadline or by one of them', async () => {
    const shared = new AbortController()
    await aborted(deadlineSignal(5, shared.signal))
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0)
    const other = new AbortController()
    const signal = deadlineSignal(60_000, shared.signal, other.signal)
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(1)
    other.abort('stop')
    expect(signal.aborted).toBe(true)
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0)
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0)
  })
})
