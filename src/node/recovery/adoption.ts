import type { PeerId } from '@libp2p/interface'
import type { Announcement, Beacon, ResultNotice } from '../../protocol/messages.ts'
import type { ResultRecord } from '../../protocol/result-record.ts'
import type { Task } from '../../task/task.ts'
import { stallAwareInterval } from '../../util/stall-aware-interval.ts'
import { DEFAULT_ANNOUNCED_MEMORY } from '../options.ts'
import type { OwnerLedger } from '../owner/owner-ledger.ts'
import { PeerLiveness } from '../peers/liveness.ts'
import { ResultFollower } from '../results/result-follower.ts'
import type { ResultStore } from '../results/result-store.ts'
import type { Thief } from '../thief/thief.ts'
import type { GossipHandlers } from '../wire/gossip.ts'
import type { MeshLibp2p } from '../wire/libp2p-factory.ts'
import { requestResultFrom } from '../wire/submit-service.ts'
import { JournalReplay } from './journal-replay.ts'
import { successorOf } from './successor.ts'

/** DHT lookups in flight at once while a successor checks the tasks it would adopt. */
export const ADOPTION_LOOKUPS = 8
/** Longest one such lookup may take, ms. */
export const ADOPTION_LOOKUP_MS = 5_000
/**
 * Sweeps in which a task's lookup may fail (time out, no peer answers) before the successor adopts
 * it all the same: a failed lookup is no evidence that the result is missing, so adoption waits for
 * another sweep; after this many, nothing is lost for a DHT that does not answer (results are
 * idempotent).
 */
export const ADOPTION_LOOKUP_TRIES = 3

/** Options of {@link Adopter}. */
export interface AdopterOptions {
  /** This node's peer id. */
  self: string
  /** Tells of disconnects (a killed peer drops its connections at once); fetches records. */
  libp2p: MeshLibp2p
  /** Takes adopted and replayed tasks into ownership; takes back the leases of dead holders. */
  ledger: Pick<OwnerLedger, 'adopt' | 'has' | 'loseHolder' | 'markDone' | 'journalled' | 'journalTasks'>
  /** Tasks this node holds under a lease are running here already: never adopted. */
  thief: Pick<Thief, 'holds'>
  /** Results known here, in the local DHT store, or in the DHT. */
  results: Pick<ResultStore, 'cached' | 'get' | 'local' | 'supersededBy' | 'accept' | 'refresh' | 'open'>
  /** Announces tasks this node now owns. */
  announce(tasks: Task[]): Promise<void>
  /** A peer silent this long is declared dead, ms. */
  failureDetectionMs: number
  /** Interval of capacity beacons, ms (sets the check period and the grace after a disconnect). */
  beaconIntervalMs: number
  /**
   * Tasks were taken into ownership (adopted from a dead owner, or replayed from the journal);
   * `why` tells, per task id, what the DHT lookup found.
   */
  onOwned(tasks: Task[], how: 'adopted' | 'replayed', why?: Map<string, string>): void
  /** A peer was declared dead (after its leases were taken back). */
  onPeerDead?(peer: string, leasesLost: number): void
  /**
   * True for owners whose tasks this node may adopt (see `ownerFilter`): the announcements of any
   * other are not remembered, and their tasks never adopted. @defaultValue every owner
   */
  admits?(owner: string): boolean
}

/**
 * Crash recovery of owned tasks (promises 1 and 9).
 *
 * - **Restart**: {@link start} replays the owner's journal — every task accepted and not done is
 *   owned and queued again once a first peer is heard (or after the detection window, alone) and
 *   the DHT has no result for it, under epochs above any allocated before the crash (see
 *   {@link JournalReplay}).
 * - **Owner death**: every node remembers the tasks announced to it, by owner, and the peers'
 *   liveness by their capacity beacons. A peer silent for the detection window (or disconnected and
 *   silent for a beacon interval or two) is declared dead: the leases it held here are taken back,
 *   and for each task it announced with no known result, every node computes the successor — the
 *   live peer, itself included, closest to the task id by XOR distance. The successor looks the
 *   result up in the DHT and, finding none, adopts the task: owns it (journalled), queues it and
 *   announces it again as its owner, under epochs above the dead owner's. Two adopters (nodes whose
 *   views differ) converge: results are idempotent by task id and the record selector is
 *   deterministic.
 */
export class Adopter implements GossipHandlers {
  private readonly liveness: PeerLiveness
  /** Tasks that ran twice (recovery makes that possible): every node ends up holding the same record. */
  private readonly follower: ResultFollower
  /** Announced tasks with no known result, by owner. */
  private readonly byOwner = new Map<string, Map<string, Task>>()
  /** The owner each remembered task was last announced by, oldest first (for eviction). */
  private readonly ownerOf = new Map<string, string>()
  private timer: NodeJS.Timeout | undefined
  private adopting = false
  private again = false
  private lastSweep = 0
  private stopped = false
  /** The journal's open tasks, owned and queued again after a restart. */
  private readonly replay: JournalReplay
  /** Remembered tasks whose lookup failed, and how many times (see {@link ADOPTION_LOOKUP_TRIES}). */
  private readonly failedLookups = new Map<string, number>()

  constructor(private readonly opts: AdopterOptions) {
    this.liveness = new PeerLiveness({
      windowMs: opts.failureDetectionMs,
      disconnectGraceMs: Math.min(opts.failureDetectionMs, 2 * opts.beaconIntervalMs),
    })
    this.follower = new ResultFollower({
      self: opts.self,
      results: opts.results,
      fetch: (executor, taskId) => requestResultFrom(opts.libp2p, executor, taskId),
      inProgress: (taskId) => opts.ledger.has(taskId) || opts.thief.holds(taskId),
    })
    this.replay = new JournalReplay({
      self: opts.self,
      ledger: opts.ledger,
      results: opts.results,
      withoutResult: async (tasks) => (await this.withoutResult(tasks, false)).open,
      requeue: async (tasks) => {
        opts.onOwned(tasks, 'replayed')
        await opts.announce(tasks)
      },
      waitForPeersMs: opts.failureDetectionMs,
    })
  }

  /** Replays the journal, then watches the peers' liveness. */
  async start(): Promise<void> {
    this.opts.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    const period = Math.max(50, Math.min(this.opts.beaconIntervalMs, this.opts.failureDetectionMs / 4))
    this.timer = stallAwareInterval(period, (stalledMs) => {
      if (stalledMs > 0) this.liveness.postpone(stalledMs)
      else this.tick()
    })
    await this.replay.start()
  }

  stop(): void {
    this.stopped = true
    this.replay.stop()
    clearInterval(this.timer)
    this.opts.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
  }

  /**
   * The record this node published for a task is not the accepted one (its owner called the
   * completion stale): read the task's record from the owner, which keeps the accepted one.
   */
  reread(taskId: string, owner: string): void {
    void this.follower.follow(owner, taskId)
  }

  /**
   * This node published its record of a task: if a notice of another run's record came while the
   * task was in progress here, that record may beat this one (see {@link ResultFollower.published}).
   */
  published(taskId: string): void {
    this.follower.published(taskId)
  }

  /** Peers heard from recently and not declared dead (this node not included). */
  livePeers(): string[] {
    return this.liveness.live()
  }

  /** Remembered tasks announced by peers and without a known result. */
  get remembered(): number {
    return this.ownerOf.size
  }

  // ------------------------------------------------------------------ gossip

  onAnnouncement(from: string, msg: Announcement): void {
    if (from === this.opts.self) return
    this.liveness.heard(from, Date.now())
    for (const task of msg.tasks) {
      if (this.opts.results.cached(task.id) !== undefined || !this.admits(task.owner)) continue
      this.remember(task)
    }
  }

  onBeacon(from: string, _msg: Beacon): void {
    if (from === this.opts.self) return
    if (this.liveness.heard(from, Date.now())) this.again = true // back from the dead: views changed
    this.replay.onPeerHeard()
  }

  onResultNotice(from: string, msg: ResultNotice): void {
    for (const { taskId } of msg.results) this.forget(taskId)
    this.follower.onResultNotice(from, msg)
  }

  // ------------------------------------------------------------------ owner death

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.liveness.disconnected(evt.detail.toString(), Date.now())
  }

  private tick(): void {
    if (this.stopped) return
    const now = Date.now()
    for (const peer of this.liveness.check(now)) {
      const lost = this.opts.ledger.loseHolder(peer)
      this.opts.onPeerDead?.(peer, lost)
      this.again = true
    }
    // views converge over time: look at the orphans again now and then while there are any
    if (!this.again && now - this.lastSweep >= this.opts.failureDetectionMs) this.again = this.hasOrphans()
    if (this.again) void this.adoptOrphans()
  }

  private hasOrphans(): boolean {
    for (const owner of this.byOwner.keys()) if (this.liveness.isDead(owner)) return true
    return false
  }

  /** Adopts every remembered task of a dead owner whose successor is this node and has no result. */
  private async adoptOrphans(): Promise<void> {
    if (this.adopting) return
    this.adopting = true
    this.again = false
    this.lastSweep = Date.now()
    try {
      const candidates = [this.opts.self, ...this.liveness.live()]
      const mine: Task[] = []
      for (const [owner, tasks] of this.byOwner) {
        if (owner === this.opts.self || !this.liveness.isDead(owner) || !this.admits(owner)) continue
        for (const task of tasks.values()) {
          if (this.settledHere(task.id)) this.forget(task.id)
          else if (successorOf(task.id, candidates) === this.opts.self) mine.push(task)
        }
      }
      if (mine.length === 0) return
      const { open, why } = await this.withoutResult(mine, true)
      if (this.stopped) return
      const floor = Date.now()
      const adopted: Task[] = []
      for (const orphan of open) {
        // the owner may be back, or the task done or adopted, while the DHT was asked
        if (!this.liveness.isDead(orphan.owner) || this.settledHere(orphan.id)) continue
        const task = { ...orphan, owner: this.opts.self }
        if (this.opts.ledger.adopt(task, { as: 'adopted', floor })) adopted.push(task)
        this.forget(orphan.id)
      }
      if (adopted.length === 0) return
      this.opts.onOwned(adopted, 'adopted', why)
      await this.opts.ledger.journalled().catch(() => undefined)
      await this.opts.announce(adopted)
    } finally {
      this.adopting = false
    }
  }

  private admits(owner: string): boolean {
    return this.opts.admits?.(owner) ?? true
  }

  /** True when the task has a result known here, or is owned or held here already. */
  private settledHere(taskId: string): boolean {
    return (
      this.opts.results.cached(taskId) !== undefined ||
      this.opts.ledger.has(taskId) ||
      this.opts.thief.holds(taskId)
    )
  }

  /**
   * The tasks whose result a DHT lookup does not find, and why each is open. A failed lookup
   * counts as none, except with `deferFailed`: then the task is left out (looked up again at the
   * next sweep) until its lookup failed {@link ADOPTION_LOOKUP_TRIES} times.
   */
  private async withoutResult(
    tasks: Task[],
    deferFailed: boolean,
  ): Promise<{ open: Task[]; why: Map<string, string> }> {
    const open: Task[] = []
    const why = new Map<string, string>()
    let next = 0
    const worker = async () => {
      while (next < tasks.length && !this.stopped) {
        const task = tasks[next++]
        let found: ResultRecord | undefined
        try {
          found = await this.opts.results.get(task.id, {
            skipCache: true,
            signal: AbortSignal.timeout(ADOPTION_LOOKUP_MS),
          })
        } catch (err) {
          const failures = (this.failedLookups.get(task.id) ?? 0) + 1
          if (deferFailed && failures < ADOPTION_LOOKUP_TRIES) {
            this.failedLookups.set(task.id, failures)
            continue
          }
          this.failedLookups.delete(task.id)
          open.push(task)
          why.set(task.id, `lookup failed ${failures}×: ${(err as Error).message}`)
          continue
        }
        this.failedLookups.delete(task.id)
        if (found === undefined) {
          open.push(task)
          why.set(task.id, 'no record found')
        } else this.forget(task.id)
      }
    }
    await Promise.all(Array.from({ length: Math.min(ADOPTION_LOOKUPS, tasks.length) }, worker))
    return { open, why }
  }

  // ------------------------------------------------------------------ memory

  private remember(task: Task): void {
    const prev = this.ownerOf.get(task.id)
    if (prev !== undefined) {
      this.byOwner.get(prev)?.delete(task.id)
      this.ownerOf.delete(task.id)
    }
    let tasks = this.byOwner.get(task.owner)
    if (tasks === undefined) {
      tasks = new Map()
      this.byOwner.set(task.owner, tasks)
    }
    tasks.set(task.id, task)
    this.ownerOf.set(task.id, task.owner)
    if (this.ownerOf.size > DEFAULT_ANNOUNCED_MEMORY) {
      const oldest = this.ownerOf.keys().next().value
      if (oldest !== undefined) this.forget(oldest)
    }
  }

  private forget(taskId: string): void {
    this.failedLookups.delete(taskId)
    const owner = this.ownerOf.get(taskId)
    if (owner === undefined) return
    this.ownerOf.delete(taskId)
    const tasks = this.byOwner.get(owner)
    tasks?.delete(taskId)
    if (tasks?.size === 0) this.byOwner.delete(owner)
  }
}

/** Gossip handlers that feed `inbox` first, then the adopter (created later: looked up per message). */
export function tapGossip(inbox: GossipHandlers, adopter: () => GossipHandlers | undefined): GossipHandlers {
  return {
    onAnnouncement(from, msg) {
      inbox.onAnnouncement(from, msg)
      adopter()?.onAnnouncement(from, msg)
    },
    onBeacon(from, msg) {
      inbox.onBeacon(from, msg)
      adopter()?.onBeacon(from, msg)
    },
    onResultNotice(from, msg) {
      inbox.onResultNotice(from, msg)
      adopter()?.onResultNotice(from, msg)
    },
  }
}
