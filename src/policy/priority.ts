import { MAX_PRIORITY, MIN_PRIORITY, second } from '../task/limits.ts'
import { InvalidPolicyError } from './errors.ts'

/** Plain priority: higher first, then FIFO. A low-priority task can starve under a stream of high ones. */
export interface StrictPolicy {
  kind: 'strict'
}

/**
 * Priority with aging, after the design's curve P(t) = 1 / (1 + e^{−(w − θ)(t − τ)}).
 *
 * - `t` is the task's wait in seconds, `w = priorityWeight(p)` ∈ [1, 2] its weight.
 * - `θ` (`theta`) is the saturation level; it must lie below every weight (θ < 1) so that every
 *   task's curve rises and saturates.
 * - `τ` (`tauMs`) is the time window: every curve crosses ½ at t = τ.
 * - `steepnessPerSecond` (s) scales the slope: the exponent is −s · (w − θ) · (t − τ).
 *
 * The effective priority is E(t) = p + AGING_BOOST · (P(t) − P(0)) / (1 − P(0)), so E(0) = p exactly
 * and E rises towards p + AGING_BOOST. Since AGING_BOOST is twice the priority range, a waiting task
 * outranks every fresh task once its normalised curve passes (MAX_PRIORITY − p) / AGING_BOOST ≤ ½,
 * that is about when its wait passes τ (see `agingWaitBoundMs`).
 *
 * Higher weights give steeper curves: after τ a higher priority ages faster, before τ a lower one
 * gains slightly more. Tasks of equal priority keep their relative (FIFO) order at every instant.
 *
 * The curve saturates, so the bound is against fresh work and work that has itself waited less
 * than about τ: under sustained overload, when top-priority tasks also wait longer than τ, every
 * queued task nears p + AGING_BOOST and priority order reasserts among them.
 */
export interface AgingPolicy {
  kind: 'aging'
  /** Saturation level θ, below every weight (θ < 1). */
  theta: number
  /** Time window τ in ms: roughly the longest wait before any task outranks fresh top-priority work. */
  tauMs: number
  /** Slope scale s, per second. @defaultValue DEFAULT_STEEPNESS_PER_SECOND */
  steepnessPerSecond?: number
}

/** A named queue ordering policy. */
export type QueuePolicy = StrictPolicy | AgingPolicy

/** Most boost aging can add, in priority units: twice the priority range (4000). */
export const AGING_BOOST = 2 * (MAX_PRIORITY - MIN_PRIORITY)

/** Default slope scale of the aging curve, per second. */
export const DEFAULT_STEEPNESS_PER_SECOND = 2

/** The strict policy: priority, then FIFO. */
export const STRICT_PRIORITY: StrictPolicy = Object.freeze({ kind: 'strict' })

/**
 * The default policy: aging with θ = 0.25, τ = 3 s, s = 2 /s. A task of the lowest priority
 * (−1000) outranks any fresh task, even one of priority 1000, after ≈ 3.02 s of waiting; a task of
 * priority 0 after ≈ 2.56 s. Under a saturating stream of top-priority work, lowest-priority waits
 * stay within a few seconds (p99 ≤ 5 s in test/policy/queue.test.ts).
 */
export const DEFAULT_AGING: AgingPolicy = Object.freeze({
  kind: 'aging',
  theta: 0.25,
  tauMs: 3 * second,
  steepnessPerSecond: DEFAULT_STEEPNESS_PER_SECOND,
})

/** The policy a queue uses unless told otherwise. */
export const DEFAULT_QUEUE_POLICY: QueuePolicy = DEFAULT_AGING

/** Clamps a priority into [MIN_PRIORITY, MAX_PRIORITY]. */
function clampPriority(priority: number): number {
  return Math.min(MAX_PRIORITY, Math.max(MIN_PRIORITY, priority))
}

/** The aging weight of a priority: w = 1 + (p − MIN) / (MAX − MIN) ∈ [1, 2]. */
export function priorityWeight(priority: number): number {
  return 1 + (clampPriority(priority) - MIN_PRIORITY) / (MAX_PRIORITY - MIN_PRIORITY)
}

/**
 * Checks a policy's parameters and returns it.
 * @throws InvalidPolicyError when θ ≥ 1 (some weight would not saturate), τ ≤ 0, or s ≤ 0.
 */
export function validateQueuePolicy(policy: QueuePolicy): QueuePolicy {
  if (policy.kind === 'strict') return policy
  if (policy.kind !== 'aging') throw new InvalidPolicyError(`unknown queue policy "${String(policy)}"`)
  const { theta, tauMs, steepnessPerSecond = DEFAULT_STEEPNESS_PER_SECOND } = policy
  if (!Number.isFinite(theta) || theta >= priorityWeight(MIN_PRIORITY)) {
    throw new InvalidPolicyError(`theta must be a number below every weight (< 1), got ${theta}`)
  }
  if (!Number.isFinite(tauMs) || tauMs <= 0) {
    throw new InvalidPolicyError(`tauMs must be a positive number of ms, got ${tauMs}`)
  }
  if (!Number.isFinite(steepnessPerSecond) || steepnessPerSecond <= 0) {
    throw new InvalidPolicyError(`steepnessPerSecond must be positive, got ${steepnessPerSecond}`)
  }
  return policy
}

/** Builds an aging policy from the defaults and `init`, and validates it. */
export function createAgingPolicy(init: Partial<Omit<AgingPolicy, 'kind'>> = {}): AgingPolicy {
  const policy: AgingPolicy = { ...DEFAULT_AGING, ...init, kind: 'aging' }
  validateQueuePolicy(policy)
  return policy
}

/** Rate and offset of one priority's logistic curve. */
interface Curve {
  /** Exponent rate a = s · (w − θ), per ms. */
  ratePerMs: number
  tauMs: number
  /** P(0). */
  p0: number
}

function logistic(x: number): number {
  return 1 / (1 + Math.exp(-x))
}

function curveOf(policy: AgingPolicy, priority: number): Curve {
  const steepness = policy.steepnessPerSecond ?? DEFAULT_STEEPNESS_PER_SECOND
  const ratePerMs = (steepness * (priorityWeight(priority) - policy.theta)) / second
  return { ratePerMs, tauMs: policy.tauMs, p0: logistic(-ratePerMs * policy.tauMs) }
}

/**
 * Returns E(wait) for one priority under a policy, with the curve's constants computed once —
 * what the queue keeps per priority level. Negative waits (clock skew) count as 0.
 */
export function effectivePriorityFn(policy: QueuePolicy, priority: number): (waitMs: number) => number {
  if (policy.kind === 'strict') return () => priority
  const { ratePerMs, tauMs, p0 } = curveOf(policy, priority)
  return (waitMs) => {
    if (!(waitMs > 0)) return priority
    const p = logistic(ratePerMs * (waitMs - tauMs))
    return priority + (AGING_BOOST * (p - p0)) / (1 - p0)
  }
}

/**
 * The effective priority of a task of `priority` that has waited `waitMs`: `priority` itself under
 * the strict policy, E(t) (see `AgingPolicy`) under aging. E(0) = priority.
 */
export function effectivePriority(policy: QueuePolicy, priority: number, waitMs: number): number {
  return effectivePriorityFn(policy, priority)(waitMs)
}

/**
 * The wait (ms) after which a task of `priority` outranks any freshly submitted task (whose
 * effective priority is at most MAX_PRIORITY): the t where E(t) = MAX_PRIORITY. This bounds the
 * wait of that priority under a continuous stream of top-priority work, up to the time the work
 * already ahead of it takes. 0 for MAX_PRIORITY; Infinity under the strict policy otherwise.
 * Under DEFAULT_AGING: ≈ 3015 ms for MIN_PRIORITY.
 */
export function agingWaitBoundMs(policy: QueuePolicy, priority: number): number {
  const gap = MAX_PRIORITY - priority
  if (gap <= 0) return 0
  if (policy.kind === 'strict') return Number.POSITIVE_INFINITY
  const { ratePerMs, tauMs, p0 } = curveOf(policy, priority)
  const target = p0 + (gap / AGING_BOOST) * (1 - p0)
  return Math.max(0, tauMs + Math.log(target / (1 - target)) / ratePerMs)
}
