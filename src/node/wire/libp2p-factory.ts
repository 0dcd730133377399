import { bootstrap } from '@libp2p/bootstrap'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { type Identify, identify } from '@libp2p/identify'
import type { ConnectionGater, Metrics, PrivateKey } from '@libp2p/interface'
import { kadDHT, passthroughMapper, type SingleKadDHT } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { memory } from '@libp2p/memory'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { type Ping, ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import type { Datastore } from 'interface-datastore'
import { createLibp2p, type Libp2p } from 'libp2p'
import { DHT_PROTOCOL, RESULT_KEY_PREFIX } from '../../protocol/constants.ts'
import { createResultSelector } from '../../protocol/records/result-selector.ts'
import { VerifiedRoots } from '../../protocol/records/verified-roots.ts'
import { withoutSelf } from '../peers/bootstrap-keeper.ts'
import { connectionHeadroom } from '../peers/connection-trimmer.ts'
import type { PeerRedials } from '../peers/liveness-watch.ts'
import { fenceResultRecords } from '../results/fencing.ts'
import { createResultValidator } from '../results/result-validator.ts'
import { GOSSIP_SCORE_THRESHOLDS, gossipScoreParams } from './gossip-score.ts'
import { InMemoryDatastore } from './memory-datastore.ts'
import { economizePeerStore } from './peer-store-reads.ts'
import { libp2pLogger } from './quiet-logger.ts'
import './length-prefix-decoder.ts'
import './yamux-window-updates.ts'
import { connectionStack } from './connection-stack.ts'

/** The libp2p services a taskmesh node runs. */
/** Inbound connections one host may open a second: a flood from one host is cut short. */
export const INBOUND_PER_HOST_PER_SECOND = 25
/** An inbound connection not through its handshakes (swarm key, Noise, muxer) by then is closed, ms. */
export const INBOUND_UPGRADE_TIMEOUT_MS = 5_000
/** Inbound connections in their handshakes at once, from every host (one holds at most 125). */
export const MAX_PENDING_INBOUND = 1_000

export type MeshServices = {
  identify: Identify
  ping: Ping
  dht: SingleKadDHT
  pubsub: GossipSub
}

/** A libp2p node with taskmesh's services. */
export type MeshLibp2p = Libp2p<MeshServices>

/** How to build the libp2p half of a node. Every field but `privateKey` is optional. */
export interface MeshLibp2pOptions {
  privateKey: PrivateKey
  /** Listen multiaddrs. @defaultValue ['/ip4/127.0.0.1/tcp/0'] (or a fresh memory address) */
  listen?: string[]
  /** Multiaddrs (with /p2p/ ids) dialled at start and kept. @defaultValue [] */
  bootstrap?: string[]
  /** `tcp` for daemons and tests, `memory` for large in-process simulations. @defaultValue 'tcp' */
  transport?: 'tcp' | 'memory'
  /**
   * Where kad-dht keeps records (a datastore on disk for daemons). Its writes of result records are
   * fenced (see `fenceResultRecords`). @defaultValue a fresh in-memory one
   */
  datastore?: Datastore
  /**
   * Starts libp2p at once; a node passes false to register its protocols first, so the first
   * identify exchange with every peer lists them all. @defaultValue true
   */
  start?: boolean
  /** libp2p pnet pre-shared key file contents: only holders of the key can connect. */
  swarmKey?: Uint8Array
  /** Discover peers on the LAN with mDNS. @defaultValue false */
  mdns?: boolean
  /**
   * Connections kept once newcomers' grace has passed (see `DEFAULT_MAX_CONNECTIONS`); libp2p
   * refuses one only beyond it plus `connectionHeadroom`, and the node's `ConnectionTrimmer` closes
   * the surplus.
   */
  maxConnections?: number
  /** libp2p's redials of its kept-alive peers (`retries`, `firstMs`). @defaultValue libp2p's own (5, 1 s) */
  redials?: Pick<PeerRedials, 'retries' | 'firstMs'>
  /** Which peers and addresses the node may dial or accept. @defaultValue every one */
  connectionGater?: ConnectionGater
  /** The batch roots the node has checked, shared by its result validator and selector. @defaultValue a fresh one */
  roots?: VerifiedRoots
  /** libp2p's metrics component (the node's accounting counts protocol streams through it). @defaultValue none */
  metrics?: Metrics
}

/**
 * Connections a node keeps at most. A mesh grows by adding nodes; what one node spends must not
 * grow with it: each node talks to a bounded set of neighbours (and dials a loaded peer it hears
 * of to steal from it), so connections, beacons and their CPU stay bounded whatever the mesh size.
 */
export const DEFAULT_MAX_CONNECTIONS = 32

/** The connections libp2p itself allows a node of limit `limit`: the limit and the newcomers' headroom. */
export const hardLimit = (limit: number): number => limit + connectionHeadroom(limit)
/** Ping streams one connection may have open each way (kad-dht pings; so may a peer's connection monitor). */
const PING_STREAMS = 4

/**
 * Gossip mesh degree. The publisher floods its own messages to every peer it is connected to
 * (floodPublish), so the mesh only carries them on to peers the publisher has no connection to;
 * every mesh peer a receiver forwards to is otherwise a duplicate that costs a decryption and a
 * decode there. A degree of 2 (gossipsub's default is 6) keeps the mesh connected (each node
 * grafts 2 to 4 peers, one of them dialled by itself) with a quarter fewer copies than 3 in a
 * fully connected mesh of 8, at the cost of a hop more in meshes of hundreds of nodes.
 */
const MESH_DEGREE = { D: 2, Dlo: 2, Dhi: 4, Dout: 1, Dlazy: 3 }

/**
 * Identifies a gossip message by its signer and sequence number, straight from the RPC bytes,
 * so duplicates (every node hears a message from several mesh peers) are dropped before their
 * signature is verified again. Only messages that passed verification enter this cache.
 */
function fastMsgIdFn(msg: { from?: Uint8Array; seqno?: Uint8Array }): string {
  const from =
    msg.from === undefined
      ? ''
      : Buffer.from(msg.from.buffer, msg.from.byteOffset, msg.from.byteLength).toString('base64')
  const seqno =
    msg.seqno === undefined
      ? ''
      : Buffer.from(msg.seqno.buffer, msg.seqno.byteOffset, msg.seqno.byteLength).toString('hex')
  return `${from}/${seqno}`
}

/**
 * Creates (but does not start) the libp2p node: TCP or memory transport, Noise, Yamux,
 * identify, ping, kad-dht in server mode under taskmesh's own protocol id with the result
 * record validator and selector, and gossipsub with StrictSign and scored topics.
 *
 * The result validator is built for this node: it reads the node's datastore and refuses a value
 * that would lose the selector to the record stored there (fencing, promise 2), and the datastore's
 * writes of result records compare-and-write under a per-key lock (see `fencing.ts`).
 */
export async function createMeshLibp2p(opts: MeshLibp2pOptions): Promise<MeshLibp2p> {
  const transport = opts.transport ?? 'tcp'
  const listen =
    opts.listen ?? (transport === 'memory' ? [`/memory/${crypto.randomUUID()}`] : ['/ip4/127.0.0.1/tcp/0'])
  const peerDiscovery = []
  const seeds = withoutSelf(opts.bootstrap ?? [], peerIdFromPrivateKey(opts.privateKey).toString())
  if (seeds.length > 0) peerDiscovery.push(bootstrap({ list: seeds, timeout: 0 }))
  if (opts.mdns === true) peerDiscovery.push(mdns())
  const roots = opts.roots ?? new VerifiedRoots()
  const datastore = fenceResultRecords(opts.datastore ?? new InMemoryDatastore(), roots)
  const node = await createLibp2p({
    start: opts.start ?? true,
    privateKey: opts.privateKey,
    addresses: { listen },
    transports: [transport === 'memory' ? memory() : tcp()],
    ...connectionStack(opts.swarmKey),
    datastore,
    connectionGater: opts.connectionGater,
    metrics: opts.metrics === undefined ? undefined : () => opts.metrics as Metrics,
    logger: libp2pLogger(),
    peerDiscovery,
    connectionManager: {
      // a bounded degree, with room for newcomers: `ConnectionTrimmer` closes the surplus
      maxConnections: hardLimit(opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS),
      // one host (an outsider flooding the port with silent connections) holds at most
      // 25/s × 5 s of the pending slots: the others still get in (libp2p's own: 5/s, 10 s, 10)
      inboundConnectionThreshold: INBOUND_PER_HOST_PER_SECOND,
      inboundUpgradeTimeout: INBOUND_UPGRADE_TIMEOUT_MS,
      maxIncomingPendingConnections: MAX_PENDING_INBOUND,
      maxParallelDials: 200,
      reconnectRetries: opts.redials?.retries,
      reconnectRetryInterval: opts.redials?.firstMs,
      reconnectBackoffFactor: 2,
    },
    // no connection monitor: a peer that stops answering is judged by taskmesh's own liveness
    // (beacons, probes) — aborting on a failed ping reset every steal and replicate stream on the
    // connection — and the round-trip time it measured is read by nobody, so its ping of every
    // connection every 10 s (a stream each, ~10 % of a 100-node mesh's streams) bought nothing
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      // kad-dht's pings and the connection monitor's shared a limit of one outbound ping stream
      ping: ping({ maxOutboundStreams: PING_STREAMS, maxInboundStreams: PING_STREAMS }),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        validators: { [RESULT_KEY_PREFIX]: createResultValidator(datastore, roots) },
        selectors: { [RESULT_KEY_PREFIX]: createResultSelector(roots) },
      }),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictSign',
        fastMsgIdFn,
        ...MESH_DEGREE,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        scoreParams: gossipScoreParams(),
        scoreThresholds: GOSSIP_SCORE_THRESHOLDS,
      }),
    },
  })
  economizePeerStore(node.peerStore)
  return node as MeshLibp2p
}
