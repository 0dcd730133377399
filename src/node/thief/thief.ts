import { canRun, expectedWaitMs } from '../../policy/capacity.ts'
import { chooseVictim, prefetchCount, stealAmount } from '../../policy/stealing.ts'
import { MAX_LEASES_PER_MESSAGE } from '../../protocol/constants.ts'
import type { ErrorReply, OfferedReply, OfferRequest, StealGrant } from '../../protocol/messages/messages.ts'
import type { AttemptRecord } from '../../task/task.ts'
import { monotonicNow } from '../../util/clock.ts'
import { chunksOf } from '../../util/frame-chunks.ts'
import { DEFAULT_PEER_STALE_MS } from '../options.ts'
import type { RunEntry } from '../run/task-runner.ts'
import type { ThiefOptions } from './thief-options.ts'

/** What {@link Thief.maybeSteal} returns when it need not steal (no async call, no new promise). */
const NOTHING_TO_DO = Promise.resolve()

/** How often a thief checks whether its leases need renewing. */
export const RENEW_CHECK_MS = 250

interface LeasedIn {
  entry: RunEntry
  owner: string
  /** The owner's lease time-to-live (from its grant). */
  ttlMs: number
  /** When the lease runs out, by this node's clock (grant or last renewal + ttl). */
  expiresAt: number
}

type LeaseRefs = Array<{ taskId: string; epoch: number; attempt?: AttemptRecord }>

/**
 * The thief side of the mesh: steals work from loaded peers when its own queue runs short, and
 * keeps the leases it holds on other owners' tasks alive until they finish — renewing them,
 * dropping the ones an owner revoked, and handing unstarted ones back when the node stops.
 */
export class Thief {
  private readonly leasedIn = new Map<string, LeasedIn>()
  private readonly emptyVictims = new Set<string>()
  private stealInFlight = false
  private stealRttMs = 2
  /** Mean wall time of the runs finished here (undefined until the first). */
  private meanTaskMs: number | undefined

  constructor(private readonly opts: ThiefOptions) {}

  /** Leases held here on other owners' tasks. */
  get size(): number {
    return this.leasedIn.size
  }

  /** True when this node holds a lease on a task of `owner`. */
  holdsFrom(owner: string): boolean {
    for (const held of this.leasedIn.values()) if (held.owner === owner) return true
    return false
  }

  /** True when this node holds a lease on the task. */
  holds(taskId: string): boolean {
    return this.leasedIn.has(taskId)
  }

  /** The run entry of a task held here under a lease. */
  entry(taskId: string): RunEntry | undefined {
    return this.leasedIn.get(taskId)?.entry
  }

  /** True when `entry` is the entry of the lease held now (not of one revoked or replaced since). */
  isCurrent(entry: RunEntry): boolean {
    return this.leasedIn.get(entry.task.id)?.entry === entry
  }

  /** A held task produced its result: the lease ends here. Returns its owner, to report to. */
  settle(taskId: string): string | undefined {
    const held = this.leasedIn.get(taskId)
    if (held !== undefined) this.leasedIn.delete(taskId)
    return held?.owner
  }

  /** Feeds one successful run time (wall ms) into the mean task time that sizes the prefetch. */
  observeTaskMs(ms: number): void {
    this.meanTaskMs = this.meanTaskMs === undefined ? ms : 0.9 * this.meanTaskMs + 0.1 * ms
  }

  /** A peer's beacon was news: a peer with queued work may be asked again, and maybe now. */
  onPeerBeacon(peerId: string, queued: number): void {
    if (queued > 0) this.emptyVictims.delete(peerId)
    if (queued > 0 && this.opts.queue.size < this.opts.runner.freeSlots + this.opts.slots)
      void this.maybeSteal()
  }

  /** Tasks to hold queued beyond the free slots (see {@link prefetchCount}). */
  private prefetch(victim?: { queued: number; queuedWorkMs: number }): number {
    const { slots } = this.opts
    return prefetchCount({ slots, stealRttMs: this.stealRttMs, meanTaskMs: this.meanTaskMs, victim })
  }

  /** Steals from the best victim when the queue is short of the free slots plus half a prefetch. */
  maybeSteal(): Promise<void> {
    const { queue, runner } = this.opts
    if (this.stealInFlight || !this.opts.isRunning()) return NOTHING_TO_DO
    if (queue.size >= runner.freeSlots + Math.ceil(this.prefetch() / 2)) return NOTHING_TO_DO
    return this.steal()
  }

  private async steal(): Promise<void> {
    const { queue, runner, counters } = this.opts
    const now = monotonicNow()
    const queuedWorkMs = queue.queuedWorkMs(false)
    const myWait = expectedWaitMs({ queuedWorkMs, slots: this.opts.slots, speed: this.opts.speed })
    const victim = chooseVictim({
      self: { offer: this.opts.offer, expectedWaitMs: myWait },
      peers: this.victims(),
      now,
      random: this.opts.random,
      transferCostMs: this.stealRttMs,
      staleAfterMs: DEFAULT_PEER_STALE_MS,
      exclude: this.emptyVictims,
    })
    if (victim === undefined) return
    const { slots, speed } = this.opts
    const thief = { queued: queue.size, queuedWorkMs, slots, speed, freeSlots: runner.freeSlots }
    const max = stealAmount({ victim, thief: { ...thief, prefetch: this.prefetch(victim) } })
    if (max <= 0) return
    this.stealInFlight = true
    counters.stealRequests++
    const started = performance.now()
    let got = 0
    try {
      await this.opts.reach?.(victim.peerId)
      const { queued, freeSlots } = thief
      const grant = await this.opts.steal.request(victim.peerId, {
        ...{ type: 'steal', requestId: crypto.randomUUID(), max, offer: this.opts.offer },
        ...{ queued, queuedWorkMs, speed, freeSlots },
      })
      const rttMs = performance.now() - started
      this.stealRttMs = 0.8 * this.stealRttMs + 0.2 * rttMs
      this.opts.onStealReply?.(rttMs)
      got = this.takeGrant(victim.peerId, grant)
    } catch {
      got = 0
    } finally {
      this.stealInFlight = false
    }
    // stolen tasks entered the queue, which wakes the run loop; an empty-handed steal tries the next victim
    if (got === 0) {
      this.emptyVictims.add(victim.peerId)
      if (this.opts.isRunning()) void this.maybeSteal()
    }
  }

  /** The peers this node may steal from: those whose tasks it admits. */
  private victims() {
    const peers = this.opts.peers.list()
    const admits = this.opts.admits
    return admits === undefined ? peers : peers.filter((p) => admits(p.peerId))
  }

  /** Takes a steal's grant (see {@link take}); what it declines is handed back at once. */
  private takeGrant(victim: string, grant: StealGrant): number {
    const { taken, declined } = this.take(victim, grant, Number.POSITIVE_INFINITY)
    if (taken.length > 0) this.opts.counters.stealsGranted++
    if (declined.length > 0) this.release(victim, declined)
    return taken.length
  }

  /**
   * An owner offers queued tasks (steal 1.1): this node takes, as from a grant, as many as its free
   * slots have room for beside its queue, and names the rest declined — the owner requeues them at
   * once. A task held already under the same lease (an offer seen twice) counts as taken. An owner
   * this node's allow-list leaves out is refused (`ERR_NOT_ALLOWED`): it takes nothing.
   */
  takeOffer(owner: string, offer: OfferRequest): OfferedReply | ErrorReply {
    if (this.opts.admits?.(owner) === false) {
      // the whole offer is refused, so the owner offers this node nothing more for a while
      const message = 'this node takes only the tasks of the owners it lists'
      return { type: 'error', requestId: offer.requestId, code: 'ERR_NOT_ALLOWED', message }
    }
    // what starts at once: a prefetch is the thief's own steal, sized by the balance rule
    const room = this.opts.isRunning() ? this.opts.runner.freeSlots - this.opts.queue.size : 0
    const { taken, declined } = this.take(owner, offer, Math.max(0, room))
    if (taken.length > 0) this.opts.counters.offersTaken++
    const declinedIds = declined.map((l) => l.taskId)
    return { type: 'offered', requestId: offer.requestId, accepted: taken, declined: declinedIds }
  }

  /**
   * Takes up to `room` granted or offered tasks this node can run under their leases, and declines
   * the rest (it cannot run the task, owns it, holds it under another lease, or the victim is not
   * the task's owner): the owner requeues those instead of waiting for their leases to run out. A
   * new lease from the same owner on a task held under an older epoch replaces the old one (the
   * owner let that one go). Each lease's grant proof goes into the entry, for the record.
   */
  private take(victim: string, grant: StealGrant | OfferRequest, room: number) {
    const leases = new Map(grant.leases.map((l) => [l.taskId, l]))
    const declined: LeaseRefs = []
    const taken: string[] = []
    for (const task of grant.tasks) {
      const lease = leases.get(task.id)
      if (lease === undefined) continue
      const held = this.leasedIn.get(task.id)
      if (held?.owner === victim && held.entry.epoch === lease.epoch) {
        taken.push(task.id) // an offer seen twice: the lease is held already
        continue
      }
      if (held?.owner === victim && held.entry.epoch < lease.epoch) this.dropLease(task.id)
      const runnable = canRun(this.opts.offer, { type: task.spec.type, resources: task.spec.resources })
      // a task the victim does not own could not be run under its grant (the record would be refused)
      const foreign = task.owner !== victim || this.opts.admits?.(victim) === false
      const full = taken.length >= room
      if (full || this.leasedIn.has(task.id) || this.opts.owns(task.id) || !runnable || foreign) {
        declined.push({ taskId: task.id, epoch: lease.epoch })
        continue
      }
      const attempts = lease.attempts === undefined ? [] : [...lease.attempts] // earlier runs, for the record
      const entry: RunEntry = { task, epoch: lease.epoch, attempts, dependencies: {}, grant: lease.proof }
      this.opts.onLease?.(victim, task.id, lease.epoch, lease.proof)
      const { ttlMs } = grant
      this.leasedIn.set(task.id, { entry, owner: victim, ttlMs, expiresAt: monotonicNow() + ttlMs })
      this.opts.events.emit(task.id, 'stolen', { from: victim, epoch: lease.epoch })
      this.opts.queue.enqueue(task, false)
      taken.push(task.id)
    }
    this.opts.counters.tasksStolen += taken.length
    return { taken, declined }
  }

  /**
   * Hands a held task back to its owner with the run it made here (a failed attempt the owner
   * retries where any node may steal it, or a run cut short as this node stops); the lease ends
   * here. Best effort: unanswered, the lease runs out at the owner.
   */
  async handBack(entry: RunEntry, attempt: AttemptRecord | undefined): Promise<void> {
    const held = this.leasedIn.get(entry.task.id)
    if (held?.entry !== entry || !this.leasedIn.delete(entry.task.id)) return
    this.opts.queue.remove(entry.task.id)
    const lease = { taskId: entry.task.id, epoch: entry.epoch, ...(attempt === undefined ? {} : { attempt }) }
    await this.release(held.owner, [lease])
  }

  /** Hands leases back to their owner (best effort: unanswered, they run out). */
  private release(owner: string, leases: LeaseRefs): Promise<unknown> {
    return this.opts.steal
      .request(owner, { type: 'release', requestId: crypto.randomUUID(), leases }, 1_000)
      .then((reply) => {
        for (const id of reply.released) this.opts.events.emit(id, 'released', { to: owner })
      })
      .catch(() => undefined)
  }

  /** Renews, per owner in one request (of at most 1,000), every held lease that has used a third of its time. */
  async renewLeases(): Promise<void> {
    const now = monotonicNow()
    const byOwner = this.leasesByOwner((_, held) => !(held.expiresAt - now > (2 * held.ttlMs) / 3))
    await Promise.all(
      byOwner.map(async ([owner, leases]) => {
        try {
          const reply = await this.opts.steal.request(owner, {
            type: 'renew',
            requestId: crypto.randomUUID(),
            leases,
          })
          for (const id of reply.rejected) {
            this.opts.events.emit(id, 'renew-rejected', { owner })
            this.dropLease(id)
          }
          for (const id of reply.accepted) {
            const held = this.leasedIn.get(id)
            if (held !== undefined) held.expiresAt = now + held.ttlMs
          }
        } catch {
          // owner unreachable: keep working; the result record still lands in the DHT
        }
      }),
    )
  }

  /** Hands every held lease that has not started back to its owner (the node stops). */
  async releaseUnstarted(): Promise<void> {
    const byOwner = this.leasesByOwner((taskId) => !this.opts.runner.isRunning(taskId))
    await Promise.all(byOwner.map(([owner, leases]) => this.release(owner, leases)))
  }

  /** The held leases `include` picks, per owner, in lists a frame may name (at most `MAX_LEASES_PER_MESSAGE`). */
  private leasesByOwner(include: (taskId: string, held: LeasedIn) => boolean): Array<[string, LeaseRefs]> {
    const byOwner = new Map<string, LeaseRefs>()
    for (const [taskId, held] of this.leasedIn) {
      if (!include(taskId, held)) continue
      const list = byOwner.get(held.owner) ?? []
      list.push({ taskId, epoch: held.entry.epoch })
      byOwner.set(held.owner, list)
    }
    const pairs = ([owner, list]: [string, LeaseRefs]) =>
      chunksOf(list, MAX_LEASES_PER_MESSAGE).map((c): [string, LeaseRefs] => [owner, c])
    return [...byOwner].flatMap(pairs)
  }

  /** Ends a lease held here: the task leaves the queue, and its run, if any, is aborted (`why`). */
  dropLease(taskId: string, why = 'lease revoked'): void {
    if (!this.leasedIn.delete(taskId)) return
    this.opts.queue.remove(taskId)
    this.opts.runner.cancel(taskId, why)
  }
}
