import type { TraceRun } from './trace.ts'

/**
 * Where a simulation's slot time went: every slot of every node from the workload's start to its
 * end (slots × makespan), split into the work the tasks asked for and what was lost around it.
 * Pure: runs in, shares out.
 */

/** One task's run on the workload's clock (as the trace has it), with the time its work asked for. */
export interface SlotRun extends TraceRun {
  /** The task's duration divided by its node's speed: what the run would take on an idle loop. */
  nominalMs: number
}

/** Shares of the slot time (slots × makespan), each in [0, 1], summing to 1. */
export interface SlotTime {
  /** The work the tasks asked for. */
  nominal: number
  /**
   * Runs longer than their work: the sleep's timer firing late on a busy event loop, and the run's
   * start and end bookkeeping.
   */
  overrun: number
  /** A slot idle between two of its runs: no task at hand when it freed (a steal in flight). */
  gaps: number
  /** A slot idle before its first run: the work had not reached it yet. */
  ramp: number
  /** A slot idle after its last run, until the last task anywhere ended. */
  tail: number
}

/**
 * Splits the slot time of a run: each node's runs are laid on its slots (a run takes the slot that
 * freed last before it started, so gaps are not split across slots), then the time between runs,
 * before a slot's first run and after its last counts as idle.
 * @param slots - slots per node, by node index.
 * @param makespanMs - the workload's length on the runs' clock (from 0).
 */
export function slotTime(runs: readonly SlotRun[], slots: readonly number[], makespanMs: number): SlotTime {
  const total = slots.reduce((sum, n) => sum + n, 0) * makespanMs
  const shares = { nominal: 0, overrun: 0, gaps: 0, ramp: 0, tail: 0 }
  if (total <= 0) return shares
  const byNode = slots.map((): SlotRun[] => [])
  for (const run of runs) byNode[run.node]?.push(run)
  for (let node = 0; node < slots.length; node++) {
    const freeAt: Array<number | undefined> = Array.from({ length: slots[node] }, () => undefined)
    for (const run of byNode[node].sort((a, b) => a.startMs - b.startMs)) {
      const start = Math.max(0, run.startMs)
      const length = Math.max(0, run.endMs - start)
      shares.nominal += Math.min(run.nominalMs, length)
      shares.overrun += Math.max(0, length - run.nominalMs)
      const slot = slotFor(freeAt, start)
      const free = freeAt[slot]
      if (free === undefined) shares.ramp += start
      else shares.gaps += Math.max(0, start - free)
      freeAt[slot] = Math.max(free ?? 0, start + length)
    }
    for (const free of freeAt) shares.tail += free === undefined ? makespanMs : Math.max(0, makespanMs - free)
  }
  // a run that ends after the makespan (a stamp's skew) is clipped into the shares
  const sum = shares.nominal + shares.overrun + shares.gaps + shares.ramp + shares.tail
  const scale = 1 / Math.max(total, sum)
  const out = {
    nominal: shares.nominal * scale,
    overrun: shares.overrun * scale,
    gaps: shares.gaps * scale,
    ramp: shares.ramp * scale,
    tail: shares.tail * scale,
  }
  // what the clipping left over is idle time at the end
  out.tail += Math.max(0, 1 - (out.nominal + out.overrun + out.gaps + out.ramp + out.tail))
  return out
}

/**
 * The slot a run starting at `start` takes: among the slots free by then, the one that freed last
 * (an unused slot counts as free since 0, so used slots go first); with none free (stamps a little
 * apart), the one that frees first.
 */
function slotFor(freeAt: Array<number | undefined>, start: number): number {
  let best = -1
  for (let s = 0; s < freeAt.length; s++) {
    const free = freeAt[s] ?? Number.NEGATIVE_INFINITY
    if (free <= start && (best < 0 || free > (freeAt[best] ?? Number.NEGATIVE_INFINITY))) best = s
  }
  if (best >= 0) return best
  let first = 0
  for (let s = 1; s < freeAt.length; s++) if ((freeAt[s] ?? 0) < (freeAt[first] ?? 0)) first = s
  return first
}
