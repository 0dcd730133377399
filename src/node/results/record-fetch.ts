import { FETCH_PROTOCOL } from '../../protocol/constants.ts'
import { taskIdFromResultKey } from '../../protocol/records/result-record.ts'
import { routingTableClosest } from '../wire/dht-contacts.ts'
import { FetchService } from '../wire/fetch-service.ts'
import type { MeshLibp2p } from '../wire/libp2p-factory.ts'
import type { StreamLimits } from '../wire/stream-limits.ts'
import { requestResultFrom } from '../wire/submit-service.ts'
import { answerFetch, BatchLookup } from './batch-lookup.ts'
import { ClosestPeers, kadId } from './closest-peers.ts'
import { PeerFetches } from './peer-fetches.ts'
import type { ResultStore } from './result-store.ts'

/** A full node's fetch protocol, both sides (see {@link recordFetch}). */
export type RecordFetch = ReturnType<typeof recordFetch>

/** Routing-table contacts read beyond a lookup's width, for the dead ones left out. */
const SPARE_CONTACTS = 4

/**
 * The fetch protocol of a full node: it answers peers' `fetch` frames from the records stored here,
 * looks many tasks up at once at the peers closest to their keys ({@link BatchLookup}), and reads
 * records from a named peer together ({@link PeerFetches}: a notice's executor). A
 * routing-table contact `isDead` names (its owner died: what adoption follows) is not one a lookup
 * must have asked: a DHT lookup's dial to it fails too.
 */
export function recordFetch(
  libp2p: MeshLibp2p,
  results: Pick<ResultStore, 'storedValue' | 'cachedValue' | 'open'>,
  opts: { limits?: StreamLimits; isDead?: (peer: string) => boolean } = {},
) {
  const { limits, isDead } = opts
  // what this node knows: the records in memory (checked), else its store (kad-dht's)
  const known = async (key: Uint8Array) => {
    const id = taskIdFromResultKey(key)
    return (id === undefined ? undefined : results.cachedValue(id)) ?? results.storedValue(key)
  }
  const service = new FetchService(libp2p, (frame) => answerFetch(frame, known), {
    limits,
  })
  const closest = new ClosestPeers(libp2p, FETCH_PROTOCOL)
  const lookup = new BatchLookup({
    request: (peer, frame) => service.request(peer, frame),
    serving: (key, count) => closest.of(key, count),
    known: (key, count) => {
      const contacts = routingTableClosest(libp2p.services.dht, kadId(key), count + SPARE_CONTACTS)
      return contacts?.filter((p) => isDead?.(p.toString()) !== true).slice(0, count)
    },
    open: (value, key) => results.open(value, key),
    local: (key) => results.storedValue(key),
  })
  const fromPeer = new PeerFetches(
    (peer, frame) => service.request(peer, frame),
    (peer, taskId) => requestResultFrom(libp2p, peer, taskId),
  )
  return {
    lookup,
    /** The record value `peer` stores for the task, if any (unverified), read with others bound there. */
    valueAt: (peer: string, taskId: string) => fromPeer.valueAt(peer, taskId),
    /** Registers the protocol (before libp2p starts). */
    start: () => service.start(),
    /** Stops serving and asking. */
    async stop(): Promise<void> {
      closest.stop()
      await service.stop()
    },
  }
}
