import { availableParallelism, totalmem } from 'node:os'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import type { HandlerRegistry } from '../executor/handler-registry.ts'
import { MAX_TIMER_MS } from '../executor/inline-runner.ts'
import type { WorkerPool } from '../executor/worker-pool.ts'
import type { Logger } from '../log/logger.ts'
import { type BackoffPolicy, DEFAULT_BACKOFF } from '../policy/backoff.ts'
import { DEFAULT_LEASE_TTL_MS } from '../policy/leases.ts'
import type { QueuePolicy } from '../policy/priority.ts'
import { DEFAULT_AGING } from '../policy/priority.ts'
import { DEFAULT_STEAL_ORDER, type StealOrder } from '../policy/queue.ts'
import {
  DEFAULT_CUSTODIANS,
  DEFAULT_RECORD_COPIES,
  DEFAULT_RPC_TIMEOUT_MS,
  MAX_CUSTODIANS,
  MAX_MEMORY_MB,
  MAX_NODE_SLOTS,
  MAX_RECORD_COPIES,
} from '../protocol/constants.ts'
import { minute, second } from '../task/limits.ts'
import { canonicalPeerId, canonicalPeerIds, definedFields } from './option-checks.ts'
import { checkNodeOptions } from './option-shapes.ts'
import type { Durability } from './owner/journal.ts'
import { DEFAULT_PEER_REDIALS, type PeerRedials } from './peers/liveness-watch.ts'
import { DEFAULT_MAX_CONNECTIONS } from './wire/libp2p-factory.ts'

/** Interval of capacity beacons (a big change sends one at once). */
export const DEFAULT_BEACON_INTERVAL_MS = 1 * second
/** Shortest gap between two change-driven beacons. */
export const MIN_BEACON_GAP_MS = 25
/**
 * Shortest gap before a beacon telling that the stealable queue became empty or non-empty: idle
 * thieves act on it, and waiting the full {@link MIN_BEACON_GAP_MS} held a task submitted right
 * after the previous one for 25 ms. Under load the queue seldom flips, so this costs beacons only
 * at low rates.
 */
export const MIN_FLIP_BEACON_GAP_MS = 2
/** Tasks a node holds queued before it refuses new submissions. */
export const DEFAULT_MAX_QUEUE_LENGTH = 100_000
/** A peer whose last beacon is older than this is not asked for work. */
export const DEFAULT_PEER_STALE_MS = 5 * second
/** Announced tasks remembered from gossip (for adoption and `story`). */
export const DEFAULT_ANNOUNCED_MEMORY = 100_000
/**
 * A queued task that neither this node nor any live peer can run for this long is reported
 * `unschedulable` (in `status()` and `taskState`) with the reasons; it stays queued.
 */
export const DEFAULT_UNSCHEDULABLE_AFTER_MS = 10 * second
/** How long a caller may wait for a result by default. */
export const DEFAULT_RESULT_WAIT_MS = 10 * minute
/** Executors a task may lose (expired or lost leases) before its owner ends it as failed (poison). */
export const DEFAULT_MAX_EXECUTOR_LOSSES = 3
/** Bytes of unfinished inbound requests (steal and submit frames) a node holds at once (64 MiB). */
export const DEFAULT_MAX_INBOUND_REQUEST_BYTES = 64 * 1024 * 1024
/** Added to three beacon intervals to make the default failure-detection window. */
export const FAILURE_DETECTION_SLACK_MS = 1 * second

/**
 * The beacon interval (`beaconIntervalMs`, or its default) when `failureDetectionMs` is at or below
 * it — every peer would be judged dead between two of its beacons —, else `undefined`: the rule the
 * node's options and the daemon's flags both refuse by.
 */
export function detectionTooShort(
  failureDetectionMs?: number,
  beaconIntervalMs?: number,
): number | undefined {
  const beacon = beaconIntervalMs ?? DEFAULT_BEACON_INTERVAL_MS
  return failureDetectionMs !== undefined && failureDetectionMs <= beacon ? beacon : undefined
}

/**
 * Everything a node can be configured with; every field is optional (`undefined` counts as left
 * out). `TaskmeshNode.create` refuses an unknown key and a value of the wrong type or out of range,
 * naming it, before it makes anything; durations (`…Ms`) are integers from 1 to 2^31 − 1 ms.
 */
export interface TaskmeshNodeOptions {
  /** Peer key; else loaded from (or created in) `dataDir`; else a fresh one. */
  privateKey?: PrivateKey
  /** Keeps the peer key and the DHT datastore across restarts. @defaultValue none (in memory) */
  dataDir?: string
  /**
   * With a data dir, when an accepted task counts as written to the journal (and `submit` answers):
   * `sync` once it is on the disk (fsync, shared by every submission of the moment: group commit),
   * `os` once the kernel has it (survives a crash of the daemon, not of the machine).
   * @defaultValue 'sync'
   */
  durability?: Durability
  /** Listen multiaddrs. @defaultValue ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  /** Peers to dial at start (multiaddrs with /p2p/<id>). @defaultValue [] */
  bootstrap?: string[]
  /** @defaultValue 'tcp' */
  transport?: 'tcp' | 'memory'
  /** Discover peers on the LAN. @defaultValue false */
  mdns?: boolean
  /** libp2p pnet pre-shared key (swarm.key file contents). */
  swarmKey?: Uint8Array
  /**
   * libp2p's connection gater: which peers and addresses this node may dial or accept (a deny
   * list, a firewall's rule kept in the process). @defaultValue none (every peer allowed)
   */
  connectionGater?: ConnectionGater
  /**
   * Peers this node never connects with, either way (see `DenyList`); replace the list on a
   * running node with `TaskmeshNode.denyPeers`. @defaultValue [] (none)
   */
  denyPeers?: string[]
  /** Concurrent task slots, at most {@link MAX_NODE_SLOTS}. @defaultValue os.availableParallelism() */
  slots?: number
  /** Labels this node offers (e.g. `gpu`), at most `MAX_LABELS`. @defaultValue [] */
  labels?: string[]
  /** Memory offered to tasks, MiB, at most {@link MAX_MEMORY_MB}. @defaultValue total memory of the machine */
  memoryMb?: number
  /**
   * Speed factor of this node (1 = nominal): advertised in beacons, used in expected waits, and
   * handed to handlers (`sleep` runs 1/speed as long) so simulations can mix fast and slow nodes;
   * positive, at most `MAX_SPEED`. @defaultValue 1
   */
  speed?: number
  /** Handlers this node runs; else the built-ins plus `handlers` (not both). */
  registry?: HandlerRegistry
  /** Operator handler modules (paths or URLs) loaded beside the built-ins. @defaultValue [] */
  handlers?: string[]
  /** A worker pool shared with other nodes of this process. @defaultValue one of its own */
  pool?: WorkerPool
  /** Queue order. @defaultValue the `aging` policy with its defaults */
  queuePolicy?: QueuePolicy
  /**
   * Which queued tasks a thief is handed first: `most-urgent` (what this node would run next) or
   * `least-urgent` (what it would reach last). @defaultValue 'most-urgent'
   */
  stealOrder?: StealOrder
  /** @defaultValue DEFAULT_LEASE_TTL_MS */
  leaseTtlMs?: number
  /** @defaultValue DEFAULT_BEACON_INTERVAL_MS */
  beaconIntervalMs?: number
  /**
   * A peer silent this long (no capacity beacon; sooner after a disconnect) is declared dead: the
   * leases it holds are taken back, and the tasks it owned are adopted by their successor.
   * @defaultValue 3 × beaconIntervalMs + FAILURE_DETECTION_SLACK_MS
   */
  failureDetectionMs?: number
  /**
   * Executors a task may lose (its lease expired, or its holder was declared dead) before its owner
   * ends it as failed with `poison: lost K executors`. @defaultValue DEFAULT_MAX_EXECUTOR_LOSSES
   */
  maxExecutorLosses?: number
  /**
   * Tasks queued or waiting here at most; a submission that would exceed it is refused with
   * `QueueFullError` (`ERR_QUEUE_FULL`), nothing of it queued. @defaultValue DEFAULT_MAX_QUEUE_LENGTH
   */
  maxQueueLength?: number
  /**
   * Every peer whose tasks this node takes into its hands: the light clients that may submit
   * over the submit protocol (`taskmesh submit --peer`; any other peer's `submit` is refused
   * with `ERR_NOT_ALLOWED`) and the nodes it steals from, remembers announcements of and adopts
   * tasks from (the tasks of any other owner are left alone). Submissions through the library
   * API and the local HTTP API are always allowed. @defaultValue undefined (every peer)
   */
  allowSubmitters?: string[]
  /**
   * An inbound steal or submit stream must deliver its whole request frame within this long of
   * opening, else it is aborted (a stream that sends nothing is closed). @defaultValue DEFAULT_RPC_TIMEOUT_MS
   */
  requestTimeoutMs?: number
  /**
   * Bytes of unfinished inbound requests held at once, over all streams and peers; beyond it the
   * streams holding the most are aborted. @defaultValue DEFAULT_MAX_INBOUND_REQUEST_BYTES
   */
  maxInboundRequestBytes?: number
  /**
   * Peers each result record made here is copied to — the connected peers closest to its key
   * (Kademlia distance) — besides the copy this node keeps: how many nodes a record outlives at
   * once, and most of what a task costs the mesh beyond its run (each copy is a frame, checks and
   * a datastore write at its holder). 0 keeps a record here only (and at the owner, when a
   * completion carried it there): it is lost with this node's disk, and a lookup reads it only
   * from this node. At most {@link MAX_RECORD_COPIES}. @defaultValue DEFAULT_RECORD_COPIES (3)
   */
  recordCopies?: number
  /**
   * Peers this node hands the specs of the tasks it owns to — the connected peers closest to its
   * own id — so that one of them adopts a task if this node dies: each is a frame at acceptance
   * and another when the task ends, at each custodian. 0 hands them to no one: a task owned here
   * waits for this node to come back (its journal keeps it), and is lost with its disk; and no other
   * node knows of it until its result exists (a state or cancel asked elsewhere finds it only while
   * this node answers). At most
   * {@link MAX_CUSTODIANS}. @defaultValue DEFAULT_CUSTODIANS (2)
   */
  custodians?: number
  /**
   * Connections this node keeps at most: libp2p refuses one only beyond it plus a newcomers'
   * headroom (`connectionHeadroom`), and the node's `ConnectionTrimmer` closes the surplus, least
   * valued first, once their grace has passed. @defaultValue DEFAULT_MAX_CONNECTIONS (32)
   */
  maxConnections?: number
  /**
   * How this node dials again the peers whose connections broke: libp2p's redials of its
   * kept-alive peers, then the node's own rounds for peers declared dead (see `PeerRedials`); the
   * fields left out keep their defaults. @defaultValue DEFAULT_PEER_REDIALS
   */
  redials?: Partial<PeerRedials>
  /** Retry delays. @defaultValue DEFAULT_BACKOFF */
  backoff?: BackoffPolicy
  /** Source of randomness (victim choice, jitter, nonces). @defaultValue Math.random */
  random?: () => number
  /**
   * How long an owned queued task may be runnable by no live node (this one, or a peer with a
   * fresh beacon) before it is reported `unschedulable`. @defaultValue DEFAULT_UNSCHEDULABLE_AFTER_MS
   */
  unschedulableAfterMs?: number
  /**
   * Where the node logs what an operator needs (task failures, retries, lease expiries, adoptions,
   * bootstrap peers it cannot reach, graylisted senders, limits hit), each line with its peer id.
   * @defaultValue a silent logger
   */
  logger?: Logger
}

/** Options with every default filled in. */
export type ResolvedNodeOptions = Required<
  Pick<
    TaskmeshNodeOptions,
    | 'slots'
    | 'labels'
    | 'memoryMb'
    | 'speed'
    | 'handlers'
    | 'queuePolicy'
    | 'stealOrder'
    | 'leaseTtlMs'
    | 'beaconIntervalMs'
    | 'maxQueueLength'
    | 'backoff'
    | 'random'
    | 'unschedulableAfterMs'
    | 'failureDetectionMs'
    | 'maxExecutorLosses'
    | 'requestTimeoutMs'
    | 'maxInboundRequestBytes'
    | 'recordCopies'
    | 'custodians'
    | 'maxConnections'
    | 'denyPeers'
  >
> &
  TaskmeshNodeOptions & { redials: PeerRedials }

/**
 * Refuses bad options (see `checkNodeOptions`: an unknown key, a value of the wrong type, out of
 * range or not allowed) and fills in the defaults; nothing is made yet.
 * @throws InvalidTaskError naming the option and the value
 */
export function resolveNodeOptions(opts: TaskmeshNodeOptions): ResolvedNodeOptions {
  checkNodeOptions(opts)
  const allowSubmitters = opts.allowSubmitters?.map((peer, i) =>
    canonicalPeerId(peer, `allowSubmitters[${i}]`),
  )
  const beaconIntervalMs = opts.beaconIntervalMs ?? DEFAULT_BEACON_INTERVAL_MS
  return {
    ...opts,
    ...(allowSubmitters === undefined ? {} : { allowSubmitters }),
    denyPeers: canonicalPeerIds(opts.denyPeers ?? [], 'denyPeers'),
    requestTimeoutMs: opts.requestTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS,
    maxInboundRequestBytes: opts.maxInboundRequestBytes ?? DEFAULT_MAX_INBOUND_REQUEST_BYTES,
    // the defaults within what a capacity beacon may carry
    slots: opts.slots ?? Math.min(availableParallelism(), MAX_NODE_SLOTS),
    recordCopies: opts.recordCopies ?? DEFAULT_RECORD_COPIES,
    custodians: opts.custodians ?? DEFAULT_CUSTODIANS,
    maxConnections: opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    redials: { ...DEFAULT_PEER_REDIALS, ...definedFields(opts.redials) },
    labels: opts.labels ?? [],
    memoryMb: opts.memoryMb ?? Math.min(Math.floor(totalmem() / 2 ** 20), MAX_MEMORY_MB),
    speed: opts.speed ?? 1,
    handlers: opts.handlers ?? [],
    queuePolicy: opts.queuePolicy ?? DEFAULT_AGING,
    stealOrder: opts.stealOrder ?? DEFAULT_STEAL_ORDER,
    leaseTtlMs: opts.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS,
    beaconIntervalMs,
    maxQueueLength: opts.maxQueueLength ?? DEFAULT_MAX_QUEUE_LENGTH,
    backoff: opts.backoff ?? DEFAULT_BACKOFF,
    random: opts.random ?? Math.random,
    unschedulableAfterMs: opts.unschedulableAfterMs ?? DEFAULT_UNSCHEDULABLE_AFTER_MS,
    failureDetectionMs:
      opts.failureDetectionMs ?? Math.min(3 * beaconIntervalMs + FAILURE_DETECTION_SLACK_MS, MAX_TIMER_MS),
    maxExecutorLosses: opts.maxExecutorLosses ?? DEFAULT_MAX_EXECUTOR_LOSSES,
  }
}
