import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import { Executor } from '../executor/executor.ts'
import { HandlerRegistry } from '../executor/handler-registry.ts'
import { VerifiedRoots } from '../protocol/records/verified-roots.ts'
import { Accounting } from './accounting/accounting.ts'
import type { ResolvedNodeOptions } from './options.ts'
import { JOURNAL_FILE, TaskJournal } from './owner/journal.ts'
import { DenyList } from './peers/deny-list.ts'
import { fencedWritesSettled } from './results/fence-locks.ts'
import { groupWriterOf } from './results/fencing.ts'
import { RecordReplicator } from './results/record-replicator.ts'
import { UnsentRecords } from './results/unsent-records.ts'
import {
  levelDamage,
  openNodeDatastore,
  RECORD_LOG_FILE,
  type ValueLogDatastore,
} from './results/value-log.ts'
import { loadOrCreatePeerKey } from './wire/identity.ts'
import { createMeshLibp2p, type MeshLibp2p } from './wire/libp2p-factory.ts'
import { InMemoryDatastore } from './wire/memory-datastore.ts'
import { PeerRecordCache } from './wire/peer-record-cache.ts'
import { streamLimits } from './wire/stream-limits.ts'

/** What a node's parts stand on: its identity, its stores, its libp2p host and its executor. */
export interface NodeHost {
  privateKey: PrivateKey
  accounting: Accounting
  registry: HandlerRegistry
  executor: Executor
  roots: VerifiedRoots
  /** Not started yet: every protocol is registered before it starts. */
  libp2p: MeshLibp2p
  replicator: RecordReplicator
  /** The datastore kad-dht and the replicator share (its record writes are group-committed). */
  datastore: Datastore
  journal: TaskJournal | undefined
  /** The peers the node refuses (`denyPeers`), attached to the host's connections. */
  denied: DenyList
  /** Closes the journal and the datastore (the last step of a stop). */
  closeDatastore(): Promise<void>
  /** What opening the data dir found damaged, for the node's log (see `levelDamage`). */
  startWarnings: string[]
}

/**
 * Builds what a node's parts stand on: the peer key (from the data dir, or a fresh one), the
 * datastore kad-dht and the replicator share, the handler registry and executor, the libp2p host
 * (not started), the record replicator and, with a data dir, the task journal.
 */
export async function assembleHost(opts: ResolvedNodeOptions): Promise<NodeHost> {
  const { dataDir } = opts
  // first: a handler module that cannot be loaded refuses the node before anything is written
  const registry = opts.registry ?? (await HandlerRegistry.withBuiltins(opts.handlers))
  const privateKey: PrivateKey =
    opts.privateKey ??
    (dataDir === undefined ? await generateKeyPair('Ed25519') : await loadOrCreatePeerKey(dataDir))
  // on disk: LevelDB, with the result records' values in a log beside it (see ValueLogDatastore)
  const datastore = dataDir === undefined ? undefined : await openNodeDatastore(dataDir)
  const damage = dataDir === undefined ? [] : await dataDirDamage(dataDir, datastore)
  // one datastore for kad-dht and the replicator, which writes records where kad-dht reads them
  const accounting = new Accounting()
  const counted = accounting.countDatastore(datastore ?? new InMemoryDatastore())
  // the peer store reads its entries at every call: on disk they are kept in memory too
  const recordStore = datastore === undefined ? counted : new PeerRecordCache(counted)
  const executor = new Executor({ registry, pool: opts.pool })
  const roots = new VerifiedRoots(undefined, accounting.signatures)
  const denied = new DenyList(opts.denyPeers)
  const libp2p = await createMeshLibp2p({
    ...{ roots, privateKey, listen: opts.listen, bootstrap: opts.bootstrap, transport: opts.transport },
    ...{ datastore: recordStore, swarmKey: opts.swarmKey, mdns: opts.mdns, metrics: accounting.metrics },
    ...{ maxConnections: opts.maxConnections, redials: opts.redials },
    connectionGater: denied.gater(opts.connectionGater),
    start: false,
  }).catch(async (err: unknown) => {
    await datastore?.close() // unlocked: the same data dir can be opened again
    throw err
  })
  denied.attach(libp2p)
  const replicator = new RecordReplicator({
    libp2p,
    datastore: recordStore,
    roots,
    limits: streamLimits(opts),
    replicas: opts.recordCopies,
    // a datastore in memory dies with the node: there is no later life to send anything again;
    // a node that copies records nowhere has nothing to send again either
    unsent: datastore === undefined || opts.recordCopies === 0 ? undefined : new UnsentRecords(recordStore),
  })
  const journal =
    dataDir === undefined ? undefined : new TaskJournal(join(dataDir, JOURNAL_FILE), opts.durability)
  if (journal !== undefined) accounting.countJournal(journal.stats)
  const closeDatastore = async () => {
    // fenced record writes still reading what is stored, then those waiting for their window
    await fencedWritesSettled(recordStore)
    await groupWriterOf(recordStore)?.flush()
    await journal?.close()
    await datastore?.close()
  }
  return {
    ...{ privateKey, accounting, registry, executor, roots, libp2p, replicator, journal, closeDatastore },
    denied,
    datastore: recordStore,
    startWarnings: damage,
  }
}

/** What opening the data dir found damaged: LevelDB's drops, a record log cut short. */
async function dataDirDamage(dataDir: string, datastore: ValueLogDatastore | undefined): Promise<string[]> {
  const found = [await levelDamage(dataDir), await datastore?.damage(join(dataDir, RECORD_LOG_FILE))]
  return found.filter((d): d is string => d !== undefined)
}
