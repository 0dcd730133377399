import { describe, expect, it, vi } from 'vitest'
import { Cancellation, cancellationOf } from '../../src/executor/cancellation.ts'
import { TaskCancelledError } from '../../src/executor/errors.ts'
import { Executor } from '../../src/executor/executor.ts'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import { request } from './helpers.ts'

describe('Cancellation', () => {
  it('tells each listener once, with the reason; a removed one hears nothing', () => {
    const c = new Cancellation()
    const heard = vi.fn()
    const removed = vi.fn()
    c.onCancel(heard)
    c.onCancel(removed)()
    expect(c.fired).toBe(false)
    c.cancel('stop')
    c.cancel('again')
    expect(heard).toHaveBeenCalledTimes(1)
    expect(heard).toHaveBeenCalledWith('stop')
    expect(removed).not.toHaveBeenCalled()
    expect(c).toMatchObject({ fired: true, reason: 'stop' })
  })

  it('gives a signal that aborts with the reason, whether read before or after the cancel', () => {
    const before = new Cancellation()
    const signal = before.signal
    expect(signal.aborted).toBe(false)
    before.cancel('first')
    expect(signal).toMatchObject({ aborted: true, reason: 'first' })
    const after = new Cancellation()
    after.cancel('second')
    expect(after.signal).toMatchObject({ aborted: true, reason: 'second' })
    // a listener that comes after the cancel is not called (`fired` says it)
    const late = vi.fn()
    after.onCancel(late)
    expect(late).not.toHaveBeenCalled()
  })

  it('reads a request without one as its signal, and lets a listener go', () => {
    const controller = new AbortController()
    const source = cancellationOf({ signal: controller.signal })
    const heard = vi.fn()
    const dropped = vi.fn()
    source?.onCancel(heard)
    source?.onCancel(dropped)()
    expect(source?.fired).toBe(false)
    controller.abort('gone')
    expect(source).toMatchObject({ fired: true, reason: 'gone' })
    expect(heard).toHaveBeenCalledWith('gone')
    expect(dropped).not.toHaveBeenCalled()
    expect(cancellationOf({ signal: AbortSignal.abort('already') })?.fired).toBe(true)
    expect(cancellationOf({})).toBeUndefined()
    const own = new Cancellation()
    expect(cancellationOf({ cancellation: own, signal: controller.signal })).toBe(own)
  })
})

describe('Executor with a Cancellation (how a node runs its tasks)', () => {
  it('cancels an inline handler under way and passes the reason to its signal', async () => {
    const registry = await HandlerRegistry.withBuiltins()
    const seen: unknown[] = []
    registry.register('hang', {
      mode: 'inline',
      run: (_input, ctx) =>
        new Promise(() => ctx.signal.addEventListener('abort', () => seen.push(ctx.signal.reason))),
    })
    const executor = new Executor({ registry })
    const cancellation = new Cancellation()
    const pending = executor.run(request('hang', null, { cancellation, timeoutMs: 60_000 }))
    cancellation.cancel('node stopping')
    expect(await pending).toMatchObject({
      status: 'failed',
      error: 'cancelled: node stopping',
      cancelled: true,
    })
    expect(seen[0]).toBeInstanceOf(TaskCancelledError)
  })

  it('does not start a task whose cancellation fired, and runs a synchronous one to its end', async () => {
    const registry = await HandlerRegistry.withBuiltins()
    let calls = 0
    registry.register('count', { mode: 'inline', run: () => ++calls })
    const executor = new Executor({ registry })
    const fired = new Cancellation()
    fired.cancel('too late')
    expect(await executor.run(request('count', null, { cancellation: fired }))).toMatchObject({
      cancelled: true,
    })
    expect(calls).toBe(0)
    expect(await executor.run(request('count', null, { cancellation: new Cancellation() }))).toMatchObject({
      status: 'succeeded',
      output: 1,
    })
  })
})
