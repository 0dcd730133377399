import { expectedWaitMs } from '../../policy/capacity.ts'
import type { NodeOffer } from '../../policy/types.ts'
import { MAX_QUEUED_TYPES } from '../../protocol/constants.ts'
import type { Beacon, HotPeer } from '../../protocol/messages/beacon-messages.ts'
import { monotonicNow } from '../../util/clock.ts'
import { MIN_BEACON_GAP_MS, MIN_FLIP_BEACON_GAP_MS } from '../options.ts'
import type { LocalQueue } from '../run/local-queue.ts'
import type { TaskRunner } from '../run/task-runner.ts'

/** Options of {@link BeaconPublisher}. */
export interface BeaconPublisherOptions {
  /** Pushes a beacon to the neighbours. */
  send(beacon: Beacon): void
  /** The loaded peers this node knows of, for the beacon's hot list. */
  hot(): HotPeer[]
  /** The node's queue: its stealable part is what thieves look for. */
  queue: LocalQueue
  /** The node's slots: how many tasks run now. */
  runner: Pick<TaskRunner, 'runningCount'>
  /** What this node offers. */
  offer: NodeOffer
  /** This node's slots. */
  slots: number
  /** This node's speed factor. */
  speed: number
  /** Interval of the periodic beacon, ms. */
  intervalMs: number
}

/**
 * This node's capacity beacons: one per interval, and one as soon as the minimum gap allows
 * when the stealable queue changed enough to matter to thieves.
 */
export class BeaconPublisher {
  /**
   * The last beacon's `seq`: the wall clock in ms, or one more than the last when that is not
   * above it, so a restarted node's beacons rank above its previous run's (peers keep only
   * beacons whose `seq` rises, and may not have forgotten the old run).
   */
  private seq = 0
  private lastAt = 0
  private lastQueued = 0
  private timer: NodeJS.Timeout | undefined
  /** A change-driven beacon is due at the end of this turn. */
  private inMicrotask = false
  /** A change-driven beacon telling of less work is due after this turn's I/O. */
  private immediate: NodeJS.Immediate | undefined
  private interval: NodeJS.Timeout | undefined
  private stopped = false

  constructor(private readonly opts: BeaconPublisherOptions) {}

  /** Sends a beacon now and one per interval from then on. */
  start(): void {
    this.interval = setInterval(() => this.send(), this.opts.intervalMs)
    this.interval.unref()
    this.send()
  }

  /** No beacon goes out after this. Safe to call twice. */
  stop(): void {
    this.stopped = true
    clearInterval(this.interval)
    if (this.timer !== undefined) clearTimeout(this.timer)
    if (this.immediate !== undefined) clearImmediate(this.immediate)
  }

  /** This node's capacity as its next beacon tells it. */
  private build(): Beacon {
    const { queue, offer } = this.opts
    const queuedWorkMs = queue.queuedWorkMs(true)
    const queuedTypes = queue.stealableTypes(MAX_QUEUED_TYPES)
    return {
      v: 1,
      seq: this.nextSeq(),
      slots: this.opts.slots,
      running: this.opts.runner.runningCount,
      queued: queue.stealableCount,
      queuedWorkMs,
      speed: this.opts.speed,
      types: offer.types,
      labels: offer.labels,
      memoryMb: offer.memoryMb,
      expectedWaitMs: expectedWaitMs({ queuedWorkMs, slots: this.opts.slots, speed: this.opts.speed }),
      sentAt: Date.now(),
      hot: this.opts.hot(),
      // thieves that run none of these do not ask
      ...(queuedTypes === undefined || queuedTypes.length === 0 ? {} : { queuedTypes }),
    }
  }

  private nextSeq(): number {
    this.seq = Math.max(this.seq + 1, Date.now())
    return this.seq
  }

  /** Sends a beacon now (and cancels a pending change-driven one). */
  send(): void {
    if (this.stopped) return
    this.lastAt = monotonicNow()
    this.lastQueued = this.opts.queue.stealableCount
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    if (this.immediate !== undefined) {
      clearImmediate(this.immediate)
      this.immediate = undefined
    }
    this.opts.send(this.build())
  }

  /**
   * Sends a beacon now, or as soon as the minimum gap allows, when the stealable queue changed
   * enough to matter to thieves: it emptied, it filled, or it moved by a quarter (and a node's
   * worth of slots) since the last beacon. Smaller changes wait for the periodic beacon.
   */
  soon(): void {
    if (this.timer !== undefined || this.inMicrotask || this.immediate !== undefined) return
    const now = this.opts.queue.stealableCount
    const last = this.lastQueued
    const flipped = (now === 0) !== (last === 0)
    const moved = Math.abs(now - last) >= Math.max(this.opts.slots, 0.25 * last)
    if (!flipped && !moved) return
    const wait = this.lastAt + (flipped ? MIN_FLIP_BEACON_GAP_MS : MIN_BEACON_GAP_MS) - monotonicNow()
    if (wait <= 0 && now > last) {
      // news of work, at the end of this turn: ahead of what the turn writes next (a submission's
      // custody frame of hundreds of tasks, which the thief would read first), not a timer phase later
      this.inMicrotask = true
      queueMicrotask(() => {
        this.inMicrotask = false
        this.send()
      })
      return
    }
    if (wait <= 0) {
      // less work (a grant took it): after this turn's writes — the grant itself goes first
      this.immediate = setImmediate(() => {
        this.immediate = undefined
        this.send()
      })
      return
    }
    this.timer = setTimeout(() => this.send(), wait)
    this.timer.unref()
  }
}
