import type { Datastore } from 'interface-datastore'
import { CONTESTED_TOPIC, RESULTS_TOPIC } from '../../protocol/constants.ts'
import { createSignatureCounts, type SignatureCounts } from '../../protocol/records/signature-counts.ts'
import type { JournalStats } from '../owner/journal.ts'
import {
  CountingDatastore,
  createDatastoreCounts,
  type DatastoreCounts,
  type DatastoreNamespace,
} from './counting-datastore.ts'
import { type StreamCounts, StreamMetrics } from './stream-metrics.ts'

export type { DatastoreCounts, DatastoreNamespace } from './counting-datastore.ts'
export type { StreamCounts } from './stream-metrics.ts'

/** Gossip messages of one topic that this node published, and that it received and accepted. */
export interface TopicCounts {
  /** Messages published (each signed once: StrictSign). */
  published: number
  publishedBytes: number
  /** First copies received (each verified once; duplicates are dropped before verification). */
  received: number
  receivedBytes: number
}

/** Writes to the task journal (its own `stats`: group commits, entries, bytes, fsyncs, compactions). */
export type JournalCounts = JournalStats

/** Everything a node counted since it started; `status().accounting`. */
export interface AccountingSnapshot {
  /** Per protocol: steal, submit, replicate, kad-dht, identify, ping, gossipsub (else the protocol id). */
  protocols: Record<string, StreamCounts>
  /** The node's connections below Noise and Yamux: bytes on the wire. */
  connections: StreamCounts
  /** Per gossip topic (`taskmesh/tasks/1`, `taskmesh/capacity/1`, `taskmesh/results/1`). */
  topics: Record<string, TopicCounts>
  /** Ed25519 signatures made and verified; gossip's are one per message published / received. */
  signatures: SignatureCounts & { gossipSigned: number; gossipVerified: number }
  /** Datastore calls per namespace: `records` (kad-dht records: results), `peers` (peer store), `other`. */
  datastore: Record<DatastoreNamespace, DatastoreCounts>
  journal: JournalCounts
}

/** Counts of a topic that carried nothing yet. */
export function createTopicCounts(): TopicCounts {
  return { published: 0, publishedBytes: 0, received: 0, receivedBytes: 0 }
}

/**
 * What one node's work costs it: messages and bytes per protocol and per gossip topic, signatures
 * made and verified, datastore reads and writes, journal writes. The parts that do the work hold
 * plain counters from here (no allocation per message); {@link snapshot} copies them out.
 */
export class Accounting {
  /** The libp2p `metrics` component: counts per protocol stream and per connection. */
  readonly metrics = new StreamMetrics()
  /** Incremented by the record and grant signers and by the node's `VerifiedRoots`. */
  readonly signatures: SignatureCounts = createSignatureCounts()
  /** Incremented by the node's gossip, per topic. */
  readonly topics: Record<string, TopicCounts> = {
    [CONTESTED_TOPIC]: createTopicCounts(),
    [RESULTS_TOPIC]: createTopicCounts(),
  }
  private journal: JournalCounts | undefined
  private datastore: CountingDatastore | undefined

  /** Wraps the node's datastore so its calls are counted; call once, and use what it returns. */
  countDatastore(datastore: Datastore): Datastore {
    this.datastore = new CountingDatastore(datastore)
    return this.datastore
  }

  /** Reports the task journal's own counts (a node without a data dir has no journal: zeros). */
  countJournal(stats: JournalCounts): void {
    this.journal = stats
  }

  /** A copy of every counter now. */
  snapshot(): AccountingSnapshot {
    const copy = <T extends object>(o: T): T => ({ ...o })
    const topics = Object.fromEntries(Object.entries(this.topics).map(([t, c]) => [t, copy(c)]))
    const ds = this.datastore?.counts
    const empty = createDatastoreCounts()
    const sum = (pick: (c: TopicCounts) => number) =>
      Object.values(this.topics).reduce((s, c) => s + pick(c), 0)
    return {
      protocols: Object.fromEntries([...this.metrics.protocols].map(([p, c]) => [p, copy(c)])),
      connections: copy(this.metrics.connections),
      topics,
      signatures: {
        ...this.signatures,
        gossipSigned: sum((c) => c.published),
        gossipVerified: sum((c) => c.received),
      },
      datastore: {
        records: copy(ds?.records ?? empty),
        peers: copy(ds?.peers ?? empty),
        other: copy(ds?.other ?? empty),
      },
      journal: copy(this.journal ?? { writes: 0, entries: 0, bytes: 0, syncs: 0, compactions: 0 }),
    }
  }
}
