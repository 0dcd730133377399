import { second } from '../task/limits.ts'
import { DEFAULT_DURATION_MS, expectedWaitMs } from './capacity.ts'
import type { OtherDrainers } from './drainers.ts'
import type { NodeOffer, PeerCapacity } from './types.ts'

/** Victims are drawn at random among this many most loaded candidates, so idle nodes don't herd. */
export const DEFAULT_TOP_K = 3
/** A beacon older than this (ms) is ignored: about three missed beacons at one per second. */
export const DEFAULT_STALE_AFTER_MS = 3 * second
/**
 * Most tasks one steal moves unless told otherwise. The balance rule (`stealAmount`) bounds a steal
 * far below this in a balanced mesh; the cap matters when the victim is slow to answer (a loaded
 * machine: a steal round trip of 0.5 s moves at most this many tasks per 0.5 s to the thief).
 */
export const DEFAULT_MAX_STEAL_BATCH = 256

/** Load figures of one node, as its beacon (or its own queue) reports them. */
export interface LoadFigures {
  /** Stealable queued tasks. */
  queued: number
  /** Estimated ms of work in the stealable queue. */
  queuedWorkMs: number
  slots: number
  /** Speed factor, 1 = nominal. */
  speed: number
}

/** A thief's load plus how many of its slots are free now. */
export interface ThiefLoad extends LoadFigures {
  freeSlots: number
  /**
   * Tasks the thief wants queued beyond its free slots, so its slots stay busy while the next
   * steal is in flight (about slots × steal round trip / task duration). @defaultValue slots
   */
  prefetch?: number
}

/** Input of `chooseVictim`. */
export interface VictimChoiceInput {
  /** The thief: what it offers and its own expected wait (ms). */
  self: { offer: NodeOffer; expectedWaitMs: number }
  peers: PeerCapacity[]
  /** Local clock, ms. */
  now: number
  /** Uniform in [0, 1). */
  random: () => number
  /** Estimated cost (ms) of moving a task: round trip plus transfer of its spec. */
  transferCostMs: number
  /** @defaultValue DEFAULT_TOP_K */
  topK?: number
  /** @defaultValue DEFAULT_STALE_AFTER_MS */
  staleAfterMs?: number
  /** Peers not to ask (e.g. just refused, or already asked this round). */
  exclude?: Set<string>
}

/** A victim candidate and its expected wait (ms). */
export interface RankedVictim {
  peer: PeerCapacity
  expectedWaitMs: number
}

/**
 * The peers worth stealing from, most loaded first: peers not excluded, with stealable queued
 * work, a fresh beacon (`now − updatedAt ≤ staleAfterMs`), a queued handler type the thief offers
 * (a type the victim runs, when its beacon does not name what it queued),
 * and for which stealing pays — Dask's cost rule: the victim's expected wait exceeds the transfer
 * cost plus the thief's own expected wait. Ties rank by peer id, so the order is deterministic.
 */
export function rankVictims(input: Omit<VictimChoiceInput, 'random' | 'topK'>): RankedVictim[] {
  const staleAfterMs = input.staleAfterMs ?? DEFAULT_STALE_AFTER_MS
  const threshold = input.transferCostMs + input.self.expectedWaitMs
  const ranked: RankedVictim[] = []
  for (const peer of input.peers) {
    if (input.exclude?.has(peer.peerId)) continue
    if (!(peer.queued > 0) || !(input.now - peer.updatedAt <= staleAfterMs)) continue
    // what it queued, when its beacon says; else what it runs
    const wanted = peer.queuedTypes ?? peer.types
    if (!wanted.some((type) => input.self.offer.types.includes(type))) continue
    const wait = expectedWaitMs(peer)
    if (wait > threshold) ranked.push({ peer, expectedWaitMs: wait })
  }
  return ranked.sort(
    (a, b) =>
      b.expectedWaitMs - a.expectedWaitMs ||
      (a.peer.peerId < b.peer.peerId ? -1 : a.peer.peerId > b.peer.peerId ? 1 : 0),
  )
}

/**
 * Picks the peer an idle node should ask for work: uniformly at random among the `topK` most
 * loaded of `rankVictims`. Undefined when no peer is worth asking.
 */
export function chooseVictim(input: VictimChoiceInput): PeerCapacity | undefined {
  const ranked = rankVictims(input)
  if (ranked.length === 0) return undefined
  const k = Math.max(1, Math.min(ranked.length, Math.floor(input.topK ?? DEFAULT_TOP_K)))
  const r = input.random()
  const index = r >= 0 && r < 1 ? Math.floor(r * k) : 0
  return ranked[index].peer
}

/** Input of `stealAmount`. */
export interface StealAmountInput {
  victim: LoadFigures
  thief: ThiefLoad
  /** @defaultValue DEFAULT_MAX_STEAL_BATCH */
  maxBatch?: number
  /**
   * What else drains the victim's queue (the victim and the other thieves asking it): with it, the
   * thief takes no task it would finish later than they would (see `stealAmount`).
   */
  others?: OtherDrainers
}

function nonNegative(x: number): number {
  return Number.isFinite(x) && x > 0 ? x : 0
}

/**
 * How many tasks a thief should take from a victim: about half the surplus. With m the victim's
 * mean task work, moving n tasks leaves the victim waiting (Qv − n·m) / Cv and the thief
 * (Qt + max(0, n − freeSlots)·m) / Ct (tasks that fit free slots start at once; C = slots × speed).
 * The answer is the largest n with thief wait ≤ victim wait afterwards — for equal capacities
 * about half the difference — so work never over-balances and can never ping-pong back (a reverse
 * steal would need the thief's wait to exceed the victim's). It is capped by the victim's queue
 * and by what the thief can start soon: min(freeSlots + slots (a prefetch), maxBatch), so one
 * thief never hoards what other idle nodes could take. 0 when the victim's wait is not longer
 * than the thief's. A victim with queued work but no capacity gives up to the cap. Given `others`
 * (capacity C and slots S of what else drains the queue), the n-th task also goes only if the
 * thief ends it no later than the others would: thief wait + m / thief speed ≤ (Qv − n·m) / C +
 * m·S / C — near a queue's end a slow thief leaves the last tasks to faster ones rather than
 * holding them in its prefetch (Heterogeneous Earliest Finish Time's rule, on the owner's fresh
 * figures); with equal speeds it only keeps a thief's prefetch from outlasting the queue.
 */
export function stealAmount(input: StealAmountInput): number {
  const { victim, thief } = input
  const queued = Math.floor(nonNegative(victim.queued))
  const work = nonNegative(victim.queuedWorkMs)
  const thiefCapacity = nonNegative(thief.slots) * nonNegative(thief.speed)
  if (queued === 0 || work === 0 || thiefCapacity === 0) return 0
  const freeSlots = Math.floor(nonNegative(thief.freeSlots))
  const maxBatch = Math.floor(nonNegative(input.maxBatch ?? DEFAULT_MAX_STEAL_BATCH))
  const cap = Math.min(queued, maxBatch, freeSlots + Math.floor(nonNegative(thief.prefetch ?? thief.slots)))
  if (cap === 0 || !(expectedWaitMs(victim) > expectedWaitMs(thief))) return 0
  const victimCapacity = nonNegative(victim.slots) * nonNegative(victim.speed)
  if (victimCapacity === 0 && input.others === undefined) return cap
  const mean = work / queued
  const thiefWork = nonNegative(thief.queuedWorkMs)
  const others = input.others
  const weighsOthers = others !== undefined && others.capacity > 0 && others.slots > 0
  const thiefRun = mean / nonNegative(thief.speed)
  const othersRun = weighsOthers ? (mean * others.slots) / others.capacity : 0
  const fits = (n: number): boolean => {
    const victimAfter = victimCapacity > 0 ? (work - n * mean) / victimCapacity : Number.POSITIVE_INFINITY
    const thiefAfter = (thiefWork + Math.max(0, n - freeSlots) * mean) / thiefCapacity
    if (!(thiefAfter <= victimAfter + 1e-9 * Math.max(1, victimAfter))) return false
    if (!weighsOthers) return true
    // the n-th task ends at the thief after its queue and one run at its speed; left behind, it
    // would end once the others drained what is left and ran it at their mean speed
    const thiefEnd = thiefAfter + thiefRun
    const othersEnd = (work - n * mean) / others.capacity + othersRun
    return thiefEnd <= othersEnd + 1e-9 * Math.max(1, othersEnd)
  }
  let lo = 0
  let hi = cap
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1
    if (fits(mid)) lo = mid
    else hi = mid - 1
  }
  return lo
}

/** Input of `grantCount`: the victim's own fresh figures and what the thief reported. */
export interface GrantInput extends StealAmountInput {
  /** How many tasks the thief asked for. */
  requested: number
  /** Stealable tasks the thief can run, if the victim counted them. */
  available?: number
  /** When given, the victim also applies the cost rule: grant nothing unless its wait exceeds
   * this plus the thief's wait. @defaultValue 0 */
  transferCostMs?: number
}

/**
 * The victim-side check of the steal rule: how many tasks to grant a thief, by the victim's fresh
 * numbers. It may grant fewer than asked (its queue shrank, the thief is busier than its beacon
 * said), never more than `requested` or `available`.
 */
export function grantCount(input: GrantInput): number {
  const requested = Math.floor(nonNegative(input.requested))
  if (requested === 0) return 0
  const cost = nonNegative(input.transferCostMs ?? 0)
  if (!(expectedWaitMs(input.victim) > cost + expectedWaitMs(input.thief))) return 0
  let n = Math.min(requested, stealAmount(input))
  if (input.available !== undefined) n = Math.min(n, Math.floor(nonNegative(input.available)))
  return n
}

/** Most rounds of slots a thief keeps queued while its next steal is in flight. */
export const MAX_PREFETCH_ROUNDS = 32

/** What {@link prefetchCount} needs. */
export interface PrefetchInput {
  /** The thief's slots. */
  slots: number
  /** The thief's mean steal round trip, ms. */
  stealRttMs: number
  /** Mean wall time of the thief's own runs, ms (undefined until it finished one). */
  meanTaskMs: number | undefined
  /** The victim's queue as its beacon tells, when one is chosen. */
  victim?: { queued: number; queuedWorkMs: number }
}

/**
 * Tasks a thief holds queued beyond its free slots so they stay busy while its next steal is in
 * flight: slots × (2 × steal round trip / mean task time), between 1 and
 * {@link MAX_PREFETCH_ROUNDS} rounds of slots (the balance rule of `stealAmount` still keeps the
 * thief's queue no longer than the victim's). The mean task time is the thief's own, once it
 * finished a run; before, the victim's (its queued work per queued task, as its beacon tells):
 * a thief that never ran a task does not size a prefetch of long tasks as if they were short
 * (on a loaded mesh whose first steal took a second, 1-slot thieves each took 16 tasks of
 * 400 ms, and one owner's queue of 200 emptied into 10 of 19 idle peers).
 */
export function prefetchCount(input: PrefetchInput): number {
  const { victim } = input
  const advertised =
    victim !== undefined && victim.queued > 0 ? victim.queuedWorkMs / victim.queued : Number.NaN
  const meanMs = Math.max(1, input.meanTaskMs ?? (advertised > 0 ? advertised : DEFAULT_DURATION_MS))
  const rounds = Math.min(MAX_PREFETCH_ROUNDS, Math.max(1, Math.ceil((2 * input.stealRttMs) / meanMs)))
  return rounds * input.slots
}
