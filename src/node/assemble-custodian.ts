import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Task } from '../task/task.ts'
import type { Intake } from './owner/intake.ts'
import type { OwnerLedger } from './owner/owner-ledger.ts'
import type { LivenessWatch } from './peers/liveness-watch.ts'
import { Custodian } from './recovery/custodian.ts'
import type { AskKnown } from './recovery/successor-check.ts'
import type { RecordFetch } from './results/record-fetch.ts'
import type { ResultStore } from './results/result-store.ts'
import type { TaskEvents } from './story/task-events.ts'
import type { Thief } from './thief/thief.ts'
import type { CustodyService } from './wire/custody-service.ts'
import type { MeshLibp2p } from './wire/libp2p-factory.ts'

/** A dial of another custodian of an owner this node guards may take this long, ms. */
const MEET_TIMEOUT_MS = 5_000

/** What {@link wireCustodian} builds the custodian from (see `wireMesh`). */
export interface CustodianInputs {
  libp2p: MeshLibp2p
  self: string
  liveness: LivenessWatch
  ledger: Pick<OwnerLedger, 'journalled'>
  /** How tasks come into this node's ownership: through the dependency gate when they have dependencies. */
  owner(): Pick<Intake, 'own' | 'owns'>
  thief: Thief
  results: ResultStore
  fetch: RecordFetch
  custody: CustodyService
  events: TaskEvents
  /** Hands tasks this node took to its own custodians. */
  hold(tasks: Task[]): Promise<void>
  admits(owner: string): boolean
  failureDetectionMs: number
}

/**
 * The custodian side of custody (`Custodian`), wired: it serves the custody protocol and adopts a
 * dead owner's tasks through the node's intake, so an orphan with dependencies waits for them (held
 * in the gate under the adoption's epoch floor) as it did at its owner, and counts as owned here
 * while it waits.
 */
export function wireCustodian(c: CustodianInputs): Custodian {
  const { libp2p, custody, events, ledger } = c
  const custodian = new Custodian({
    ...{ self: c.self, liveness: c.liveness, thief: c.thief, results: c.results, hold: c.hold },
    batch: c.fetch.lookup,
    ledger: { has: (id) => c.owner().owns(id), journalled: () => ledger.journalled() },
    own: (task, how) => c.owner().own(task, how),
    admits: c.admits,
    meet: (peer) => void meet(libp2p, peer.peerId, peer.addrs),
    ask: custodyQuery(custody),
    failureDetectionMs: c.failureDetectionMs,
    onAdopted: (tasks, why) => {
      for (const t of tasks) {
        const lookup = why.get(t.id)
        events.emit(t.id, 'adopted', lookup === undefined ? undefined : { lookup })
      }
    },
  })
  custody.serveWith((from, frame, bytes) => custodian.handle(from, frame, bytes))
  return custodian
}

/**
 * Dials another custodian of an owner this node guards, so each hears the other's beacons. Called
 * for every `hold` frame: a custodian connected already is found by its id string (no peer id is
 * parsed on the path of the custody acknowledgement).
 */
async function meet(libp2p: MeshLibp2p, peer: string, addrs: string[]): Promise<void> {
  try {
    if (libp2p.getConnections().some((c) => c.remotePeer.toString() === peer)) return
    const id = peerIdFromString(peer)
    if (addrs.length > 0) await libp2p.peerStore.merge(id, { multiaddrs: addrs.map((a) => multiaddr(a)) })
    await libp2p.dial(id, { signal: AbortSignal.timeout(MEET_TIMEOUT_MS) })
  } catch {
    // unreachable now: its liveness will be judged when an owner dies (an unknown peer counts as live)
  }
}

/** Asks a peer, over custody `query`, which of an owner's task ids it guards or has taken. */
export function custodyQuery(custody: Pick<CustodyService, 'request'>): AskKnown {
  return async (peer, owner, ids) => {
    const reply = await custody.request(peer, { type: 'query', requestId: crypto.randomUUID(), owner, ids })
    if (reply.type !== 'known') throw new Error(`${peer} answered the query with ${reply.type}`)
    return reply
  }
}
