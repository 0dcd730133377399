import { getEventListeners } from 'node:events'
import { describe, expect, it, vi } from 'vitest'
import { onAbort } from '../../src/util/abort-fanout.ts'

describe('onAbort', () => {
  it('calls each listener once, in the order added, under one listener on the signal', () => {
    const controller = new AbortController()
    const calls: number[] = []
    const stops = Array.from({ length: 5_000 }, (_, i) => onAbort(controller.signal, () => calls.push(i)))
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    stops[1]()
    stops[3]()
    controller.abort()
    controller.abort() // a second abort calls nothing again
    expect(calls).toHaveLength(4_998)
    expect(calls.slice(0, 4)).toEqual([0, 2, 4, 5])
  })

  it('leaves the signal without a listener once every one added was taken back', () => {
    const controller = new AbortController()
    const stops = [1, 2, 3].map(() => onAbort(controller.signal, () => undefined))
    for (const stop of stops) stop()
    stops[0]() // twice: nothing more
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    const calls: string[] = []
    onAbort(controller.signal, () => calls.push('again'))
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    controller.abort()
    expect(calls).toEqual(['again'])
  })

  it('keeps signals apart, and a signal whose listeners all left calls nothing', () => {
    const [a, b] = [new AbortController(), new AbortController()]
    const calls: string[] = []
    onAbort(a.signal, () => calls.push('a'))
    const stop = onAbort(b.signal, () => calls.push('b'))
    stop()
    b.abort()
    a.abort()
    expect(calls).toEqual(['a'])
  })

  it('after an abort, a new listener on a fresh signal is called as before', () => {
    const first = new AbortController()
    const calls: string[] = []
    onAbort(first.signal, () => calls.push('first'))
    first.abort()
    const second = new AbortController()
    onAbort(second.signal, () => calls.push('second'))
    second.abort()
    expect(calls).toEqual(['first', 'second'])
  })

  it('a listener that throws leaves the others to run and has its error reported on a microtask', () => {
    const controller = new AbortController()
    const reported: Array<() => void> = []
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => {
      reported.push(task)
    })
    const calls: string[] = []
    const boom = new Error('listener failed')
    try {
      onAbort(controller.signal, () => calls.push('before'))
      onAbort(controller.signal, () => {
        throw boom
      })
      onAbort(controller.signal, () => calls.push('after'))
      expect(() => controller.abort()).not.toThrow()
    } finally {
      spy.mockRestore()
    }
    expect(calls).toEqual(['before', 'after'])
    expect(reported).toHaveLength(1)
    expect(() => reported[0]()).toThrow(boom)
  })
})
