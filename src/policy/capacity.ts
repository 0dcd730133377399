import type { Resources } from '../task/spec.ts'
import type { NodeOffer, QueuedTask } from './types.ts'

/** What a task needs, as `canRun` and `unmetNeeds` see it. */
export interface TaskNeed {
  type: string
  resources: Resources
}

/** A finite, positive number, or 0. */
export function positive(x: number): number {
  return Number.isFinite(x) && x > 0 ? x : 0
}

/**
 * A node's load score: the expected wait, in ms, before its queued work is done,
 * `queuedWorkMs / (slots × speed)`. No queued work (or a NaN/negative amount) gives 0; queued work
 * on a node with no usable capacity (0 or NaN slots or speed) gives Infinity.
 */
export function expectedWaitMs(c: { queuedWorkMs: number; slots: number; speed: number }): number {
  const work = positive(c.queuedWorkMs)
  if (work === 0) return 0
  const capacity = positive(c.slots) * positive(c.speed)
  return capacity > 0 ? work / capacity : Number.POSITIVE_INFINITY
}

/** Human-readable reasons why `offer` cannot run `need`; empty when it can. */
export function unmetNeeds(offer: NodeOffer, need: TaskNeed): string[] {
  const reasons: string[] = []
  if (!offer.types.includes(need.type)) reasons.push(`handler "${need.type}" not offered`)
  for (const label of need.resources.labels) {
    if (!offer.labels.includes(label)) reasons.push(`label "${label}" missing`)
  }
  if (need.resources.slots > offer.slots) {
    reasons.push(`needs ${need.resources.slots} slots, offers ${offer.slots}`)
  }
  if (need.resources.memoryMb > 0 && need.resources.memoryMb > offer.memoryMb) {
    reasons.push(`needs ${need.resources.memoryMb} MiB memory, offers ${offer.memoryMb}`)
  }
  return reasons
}

/**
 * True when a node offering `offer` can run `need`: the handler type is offered, every label is
 * offered, the task's slots fit the node's slots, and its memory (0 = no need) fits the node's.
 */
export function canRun(offer: NodeOffer, need: TaskNeed): boolean {
  if (!offer.types.includes(need.type)) return false
  if (need.resources.slots > offer.slots) return false
  if (need.resources.memoryMb > 0 && need.resources.memoryMb > offer.memoryMb) return false
  return need.resources.labels.every((label) => offer.labels.includes(label))
}

/**
 * Work in the stealable part of a queue, in slot-ms at nominal speed: Σ estimate(type) × slots over
 * stealable tasks — the `queuedWorkMs` a node puts in its beacon.
 */
export function queuedWorkMs(tasks: Iterable<QueuedTask>, estimate: (type: string) => number): number {
  let total = 0
  for (const task of tasks) {
    if (task.stealable) total += positive(estimate(task.type)) * Math.max(1, task.resources.slots)
  }
  return total
}

/** Estimate for a handler type never observed, in ms (Dask's `unknown-task-duration` is 500 ms). */
export const DEFAULT_DURATION_MS = 500

/** Weight of a new observation in the moving average (0 < α ≤ 1). */
export const DEFAULT_DURATION_ALPHA = 0.3

/** Options of a `DurationEstimator`. */
export interface DurationEstimatorInit {
  /** Weight of each new observation. @defaultValue DEFAULT_DURATION_ALPHA */
  alpha?: number
  /** Estimate for unseen types, ms. @defaultValue DEFAULT_DURATION_MS */
  defaultMs?: number
  /** Estimates to start from, e.g. a previous `snapshot()`. */
  initial?: Record<string, number>
}

/**
 * Per handler type exponentially weighted moving average of observed run times:
 * `estimate ← α · observed + (1 − α) · estimate`; the first observation of a type is taken as is.
 * Feed it nominal durations (wall ms × this node's speed) when the result is divided by speed
 * again, as `expectedWaitMs` does.
 */
export class DurationEstimator {
  readonly alpha: number
  readonly defaultMs: number
  private readonly estimates = new Map<string, number>()

  constructor(init: DurationEstimatorInit = {}) {
    const alpha = init.alpha ?? DEFAULT_DURATION_ALPHA
    this.alpha = alpha > 0 && alpha <= 1 ? alpha : DEFAULT_DURATION_ALPHA
    this.defaultMs = positive(init.defaultMs ?? DEFAULT_DURATION_MS) || DEFAULT_DURATION_MS
    for (const [type, ms] of Object.entries(init.initial ?? {})) {
      if (positive(ms) > 0) this.estimates.set(type, ms)
    }
  }

  /** Records one run of `type` that took `ms`. Negative, NaN or infinite times are ignored. */
  observe(type: string, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return
    const prev = this.estimates.get(type)
    this.estimates.set(type, prev === undefined ? ms : this.alpha * ms + (1 - this.alpha) * prev)
  }

  /** The expected run time of `type`, in ms; `defaultMs` for a type never observed. */
  estimate(type: string): number {
    return this.estimates.get(type) ?? this.defaultMs
  }

  /** Current estimates by type, in ms (a copy; can seed a new estimator via `initial`). */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.estimates)
  }

  /**
   * This node's speed relative to `nominalMs` (reference run times by type): the geometric mean of
   * nominal / estimate over the types both know. 1 when no type is shared. Use it with estimates
   * of local wall time.
   */
  speedFactor(nominalMs: Record<string, number>): number {
    let logSum = 0
    let n = 0
    for (const [type, est] of this.estimates) {
      const nominal = positive(nominalMs[type] ?? 0)
      if (nominal > 0 && est > 0) {
        logSum += Math.log(nominal / est)
        n++
      }
    }
    return n === 0 ? 1 : Math.exp(logSum / n)
  }
}
