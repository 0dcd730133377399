import type { NodeOffer } from '../../policy/types.ts'
import type { NodeCounters } from '../node-counters.ts'
import type { PeerView } from '../peers/peer-view.ts'
import type { LocalQueue } from '../run/local-queue.ts'
import type { TaskRunner } from '../run/task-runner.ts'
import type { TaskEvents } from '../story/task-events.ts'
import type { StealService } from '../wire/steal-service.ts'

/** Options of {@link Thief}. */
export interface ThiefOptions {
  /** Sends steal, renew and release requests to owners. */
  steal: Pick<StealService, 'request'>
  /** The node's queue: stolen tasks wait there (not stealable) for a slot. */
  queue: LocalQueue
  /** The node's slots: how many are free, and cancelling a revoked run. */
  runner: Pick<TaskRunner, 'freeSlots' | 'cancel' | 'isRunning'>
  /** The peers' capacity beacons, to choose a victim from. */
  peers: Pick<PeerView, 'list'>
  /** What this node offers (a steal request carries it; a grant is checked against it). */
  offer: NodeOffer
  /** This node's slots. */
  slots: number
  /** This node's speed factor. */
  speed: number
  /** Uniform in [0, 1), for the victim choice. */
  random: () => number
  /** The node's counters (`stealRequests`, `stealsGranted`, `tasksStolen`, `offersTaken`). */
  counters: NodeCounters
  /** True while the node runs: it steals only then. */
  isRunning(): boolean
  /** True when this node owns the task (a grant of it is ignored). */
  owns(taskId: string): boolean
  /**
   * Makes a victim dialable before it is asked (a peer learnt from a hot list is not connected: its
   * addresses go into the peer store). @defaultValue nothing
   */
  reach?(peerId: string): Promise<void>
  /** Where the thief tells what it did with each task: `stolen`, `renew-rejected`, `released`. */
  events: TaskEvents
  /**
   * True for the owners whose tasks this node may take (see `ownerFilter`): it steals from no
   * one else, and declines their grants. @defaultValue every owner
   */
  admits?(owner: string): boolean
  /** Told the round trip of each steal request answered (a grant, empty or not), ms. */
  onStealReply?(ms: number): void
  /**
   * Told each lease taken, with the owner's grant proof: it came from the owner itself, in its
   * answer on its authenticated stream, so the record signed under it needs no check of it here
   * (a bad proof would only spoil the owner's own task: every other node checks it). @defaultValue nothing
   */
  onLease?(owner: string, taskId: string, epoch: number, proof: string): void
}
