import { stallAwareInterval } from '../../util/stall-aware-interval.ts'
import type { Lifecycle, NodeParts } from '../assemble.ts'
import { UNSCHEDULABLE_CHECK_MS } from '../owner/unschedulable.ts'
import type { RecordReplicator } from '../results/record-replicator.ts'
import { RENEW_CHECK_MS } from '../thief/thief.ts'
import type { MeshLibp2p } from '../wire/libp2p-factory.ts'
import { listenFailure } from '../wire/listen-failure.ts'
import type { SubmitService } from '../wire/submit-service.ts'

/** How often the node logs the limits that bit (queue full, inbound budget), ms. */
const LIMIT_CHECK_MS = 1_000

/** What {@link startNode} starts. */
export interface StartupParts {
  parts: NodeParts
  lifecycle: Lifecycle
  /** Where the node's timers go (the shutdown clears them first). */
  timers: NodeJS.Timeout[]
  libp2p: MeshLibp2p
  replicator: RecordReplicator
  submitService: SubmitService
  /** Lease time-to-live granted to thieves, ms (leases are checked four times per TTL). */
  leaseTtlMs: number
}

/**
 * How a node starts: every protocol registered before libp2p starts (and dials), then the mesh,
 * the node's timers (lease expiry, renewals, unschedulable checks, limits), beacons and liveness;
 * last, the journal's open tasks are requeued once a peer is heard. The reverse of `Shutdown`.
 */
export async function startNode(o: StartupParts): Promise<void> {
  const p = o.parts
  // every protocol is registered before libp2p starts (and dials): the first identify exchange
  // with a peer lists them all
  await o.replicator.start()
  await p.steal.start()
  await o.submitService.start()
  await p.serveMesh()
  await o.libp2p.start()
  p.gossip.start()
  o.libp2p.addEventListener('peer:disconnect', (evt) => p.peers.remove(evt.detail.toString()))
  await p.startMesh()
  const expiry = stallAwareInterval(Math.max(50, Math.floor(o.leaseTtlMs / 4)), (stalledMs) => {
    if (stalledMs > 0) p.ledger.postponeLeases(stalledMs)
    else p.publishPoisoned(p.ledger.expireLeases())
  })
  const every = (ms: number, fn: () => void) => {
    const t = setInterval(fn, ms)
    t.unref()
    o.timers.push(t)
  }
  every(RENEW_CHECK_MS, () => void p.thief.renewLeases())
  every(UNSCHEDULABLE_CHECK_MS, () => p.unschedulable.check())
  every(LIMIT_CHECK_MS, () => p.limitWatch.check())
  o.timers.push(expiry)
  o.lifecycle.state = 'running'
  p.beacons.start()
  p.liveness.start()
  await p.replay.start() // requeues the journal's open tasks once a peer is heard
}

/**
 * Starts `node`; one that fails to start is stopped (its services closed, its datastore unlocked)
 * and the failure thrown, libp2p's failure to listen as one line per address (`ListenError`).
 */
export async function startOrStop(node: { start(): Promise<void>; stop(): Promise<void> }): Promise<void> {
  try {
    await node.start()
  } catch (err) {
    await node.stop().catch(() => undefined)
    throw listenFailure(err) ?? err
  }
}
