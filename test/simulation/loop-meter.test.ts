import { performance } from 'node:perf_hooks'
import { threadId } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { distinctLoops, LoopMeter, type LoopStats, loopsLine } from '../../src/simulation/loop-meter.ts'
import { osThreadId } from '../../src/simulation/thread-cpu.ts'
import { blockLoop } from '../integration/helpers.ts'

/** Lets the loop run its timers for `ms` (the stretch measured, not a wait for an event). */
const run = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('LoopMeter', () => {
  it('tells how late timers ran while the loop was blocked, and how busy it was', async () => {
    const meter = new LoopMeter()
    // the quietest of up to ten stretches, until one is half idle: a worker just started may still
    // be busy for some of them (a loaded CI machine once had a lone 40 ms stretch at utilization 1,
    // and once three of them)
    let quiet: LoopStats | undefined
    for (let i = 0; i < 10 && (quiet === undefined || quiet.utilization >= 0.5); i++) {
      meter.start()
      await run(30)
      const stretch = meter.take()
      if (quiet === undefined || stretch.utilization < quiet.utilization) quiet = stretch
    }
    if (quiet === undefined) throw new Error('no quiet stretch')
    meter.start()
    const from = performance.now()
    await run(20)
    blockLoop(80)
    await run(20)
    const blocked = meter.take()
    const wallMs = performance.now() - from
    expect(blocked.thread).toBe(threadId)
    // a timer due during the 80 ms block ran at least 70 ms late (its 10 ms interval not counted)
    expect(blocked.delayMaxMs).toBeGreaterThanOrEqual(60)
    expect(blocked.delayMaxMs).toBeGreaterThan(quiet.delayMaxMs)
    expect(blocked.delayP99Ms).toBeLessThanOrEqual(blocked.delayMaxMs)
    expect(blocked.delayMeanMs).toBeGreaterThan(0)
    // busy at least for the 80 ms block of its stretch (~120 ms; longer when timers ran late)
    expect(blocked.utilization).toBeGreaterThanOrEqual((0.9 * 80) / wallMs)
    expect(blocked.utilization).toBeLessThanOrEqual(1)
    // the stretch is over: the same figures until the next start
    expect(meter.take()).toBe(blocked)
  })

  it('reports zeros for a stretch never started', () => {
    expect(new LoopMeter().take()).toEqual({
      thread: threadId,
      tid: osThreadId(),
      utilization: 0,
      delayMeanMs: 0,
      delayP99Ms: 0,
      delayMaxMs: 0,
    })
  })

  it('counts each loop once, in thread order, and prints one figure per loop', () => {
    const loop = (
      thread: number,
      utilization: number,
      delayMeanMs: number,
      delayP99Ms: number,
    ): LoopStats => ({
      ...{ thread, utilization, delayMeanMs, delayP99Ms, delayMaxMs: delayP99Ms },
    })
    const loops = distinctLoops([loop(3, 0.65, 2.3, 14), loop(2, 0.96, 4.1, 21), loop(3, 0.65, 2.3, 14)])
    expect(loops.map((l) => l.thread)).toEqual([2, 3])
    expect(loopsLine(loops)).toBe('96 / 65 % busy; timers late by 4.1 / 2.3 ms on average, p99 21 / 14 ms')
    expect(loopsLine([])).toBe('not measured')
    // a thread per node: the range, not a figure per loop
    const many = [0.6, 0.97, 0.8, 0.7, 0.9].map((u, i) => loop(i + 1, u, 2.1 + i, 10 + 5 * i))
    expect(loopsLine(many)).toBe(
      '5 loops: 60–97 % busy; timers late by 2.1–6.1 ms on average, p99 up to 30 ms',
    )
  })
})
