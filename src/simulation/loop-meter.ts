import {
  type EventLoopUtilization,
  type IntervalHistogram,
  monitorEventLoopDelay,
  performance,
} from 'node:perf_hooks'
import { threadId } from 'node:worker_threads'
import { osThreadId } from './thread-cpu.ts'

/**
 * How an event loop that hosts simulated nodes fared over the measured run: how busy it was, and
 * how late its timers fired. A node's sleeps, beacons and lease checks are timers: on a loop busy
 * nearly all the time each fires late, and a sleep task holds its slot that much longer — the
 * simulation's makespan grows with this delay, not with idle slots.
 */
export interface LoopStats {
  /** The worker thread's id (0: the simulation's own thread, the shared loop). */
  thread: number
  /** The thread's OS id (Linux), to read its CPU in `/proc`; undefined elsewhere. */
  tid?: number
  /** Busy share of the loop's wall time, 0–1 (`performance.eventLoopUtilization`). */
  utilization: number
  /** How late a timer due every 10 ms fired: mean, 99th percentile and most, ms. */
  delayMeanMs: number
  delayP99Ms: number
  delayMaxMs: number
}

/** What {@link monitorEventLoopDelay} samples at: a timer due every 10 ms (its default). */
const DELAY_RESOLUTION_MS = 10

/**
 * Measures this thread's event loop over a stretch: {@link start} at its beginning, {@link take}
 * at its end (the same figures for every later call, until the next start). Between the two it
 * runs a 10 ms timer; outside them nothing, so an idle mesh's CPU is not touched.
 */
export class LoopMeter {
  private elu: EventLoopUtilization | undefined
  private delay: IntervalHistogram | undefined
  private taken: LoopStats | undefined

  /** Starts a stretch (again, if one runs: what it measured so far is dropped). */
  start(): void {
    this.delay?.disable()
    this.delay = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS })
    this.delay.enable()
    this.elu = performance.eventLoopUtilization()
    this.taken = undefined
  }

  /** Ends the stretch and says how the loop fared; all zeros when none was started. */
  take(): LoopStats {
    if (this.taken !== undefined) return this.taken
    const { elu, delay } = this
    if (elu === undefined || delay === undefined) {
      return {
        thread: threadId,
        tid: osThreadId(),
        utilization: 0,
        delayMeanMs: 0,
        delayP99Ms: 0,
        delayMaxMs: 0,
      }
    }
    delay.disable()
    // the histogram holds the time between the timer's runs: its interval plus how late it ran
    const ms = (ns: number) =>
      Number.isFinite(ns) && delay.count > 0 ? Math.max(0, ns / 1e6 - DELAY_RESOLUTION_MS) : 0
    this.taken = {
      thread: threadId,
      tid: osThreadId(),
      utilization: performance.eventLoopUtilization(elu).utilization,
      delayMeanMs: ms(delay.mean),
      delayP99Ms: ms(delay.percentile(99)),
      delayMaxMs: ms(delay.max),
    }
    this.elu = undefined
    this.delay = undefined
    return this.taken
  }
}

/**
 * Each event loop's figures once: nodes that share a loop (a thread of the `cores` layout, the
 * shared loop) report the same loop, which counts once. In thread order.
 */
export function distinctLoops(stats: LoopStats[]): LoopStats[] {
  const byThread = new Map<number, LoopStats>()
  for (const s of stats) if (!byThread.has(s.thread)) byThread.set(s.thread, s)
  return [...byThread.values()].sort((a, b) => a.thread - b.thread)
}

/** Loops a report names one by one; with more (a thread per node), it gives their range. */
const LOOPS_NAMED = 4

/**
 * `96 / 65 % busy; timers late by 4.1 / 2.3 ms on average, p99 21 / 14 ms`: one figure per loop,
 * or with more than {@link LOOPS_NAMED} loops their range (`8 loops: 60–97 % busy; …, p99 up to 45 ms`).
 */
export function loopsLine(loops: LoopStats[]): string {
  if (loops.length === 0) return 'not measured'
  if (loops.length > LOOPS_NAMED) {
    const range = (f: (s: LoopStats) => number, digits: number) => {
      const values = loops.map(f)
      return `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`
    }
    return (
      `${loops.length} loops: ${range((s) => 100 * s.utilization, 0)} % busy; timers late by ` +
      `${range((s) => s.delayMeanMs, 1)} ms on average, p99 up to ${Math.max(...loops.map((s) => s.delayP99Ms)).toFixed(0)} ms`
    )
  }
  const each = (f: (s: LoopStats) => string) => loops.map(f).join(' / ')
  return (
    `${each((s) => (100 * s.utilization).toFixed(0))} % busy; timers late by ` +
    `${each((s) => s.delayMeanMs.toFixed(1))} ms on average, p99 ${each((s) => s.delayP99Ms.toFixed(0))} ms`
  )
}
