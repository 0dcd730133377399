import { Counter, Gauge, type Registry } from 'prom-client'
import type { NodeCounters } from '../node-counters.ts'
import type { NodeStatus } from '../node-status.ts'

/** Counters of `status().counters` exported as `taskmesh_<name>_total`, with their help. */
const COUNTERS: Array<[keyof NodeCounters, string, string]> = [
  ['accepted', 'tasks_accepted', 'Tasks accepted here (this node became their owner)'],
  ['executed', 'attempts', 'Attempts that ended here (a handler returned or threw)'],
  ['retried', 'task_retries', 'Failed attempts of tasks queued again for a retry'],
  ['stealRequests', 'steal_requests', 'Steal requests this node sent'],
  ['stealsGranted', 'steals_granted', 'Steal requests of this node answered with at least one task'],
  ['tasksStolen', 'tasks_stolen', 'Tasks this node took from victims'],
  ['tasksGranted', 'tasks_granted', 'Tasks this node granted to thieves (asked or offered)'],
  ['tasksOffered', 'tasks_offered', 'Tasks this node offered to idle peers, taken or not'],
  ['offersTaken', 'offers_taken', 'Offers of other owners this node took at least one task of'],
  ['leasesExpired', 'leases_expired', 'Leases granted here that expired (the task was requeued)'],
  ['staleCompletions', 'stale_completions', 'Completions refused here as stale (an older epoch or holder)'],
  ['executorsLost', 'executors_lost', 'Leases taken back because they expired or their holder died'],
  ['poisoned', 'tasks_poisoned', 'Tasks ended as failed after losing too many executors'],
  ['adopted', 'tasks_adopted', 'Tasks adopted from an owner declared dead'],
  ['replayed', 'tasks_replayed', 'Journalled tasks requeued at start'],
]

/** Gauges of the status snapshot exported as `taskmesh_<name>`. */
const GAUGES: Array<[string, string, (s: NodeStatus) => number]> = [
  ['slots', 'Task slots of this node', (s) => s.slots],
  ['tasks_running', 'Attempts running here now', (s) => s.running],
  ['tasks_queued', 'Tasks in this node’s queue (owned and held under lease)', (s) => s.queued],
  ['tasks_stealable', 'Queued tasks thieves may take', (s) => s.stealable],
  ['tasks_waiting', 'Owned tasks waiting for their dependencies', (s) => s.waiting],
  ['tasks_unschedulable', 'Owned queued tasks no live node can run', (s) => s.unschedulableCount],
  ['leases_out', 'Leases this node granted that thieves hold', (s) => s.leasedOut],
  ['leases_in', 'Leases this node holds from owners', (s) => s.leasedIn],
  ['peers', 'Peers whose capacity beacons this node hears', (s) => s.peers.length],
  ['expected_wait_seconds', 'Expected wait of a task queued here now', (s) => s.expectedWaitMs / 1000],
  ['inbound_bytes', 'Bytes of unfinished inbound requests held now', (s) => s.inbound.bytes],
  ['inbound_streams', 'Inbound request streams being received now', (s) => s.inbound.streams],
  ['connections', 'libp2p connections open now', (s) => s.connections.open],
  [
    'connections_limit',
    'Connections this node brings itself back to (newcomers let in beyond)',
    (s) => s.connections.limit,
  ],
  ['peers_denied', 'Peers on this node’s deny list (no connection either way)', (s) => s.connections.denied],
  ['custodians', 'Peers holding the specs of this node’s open tasks', (s) => s.custody.custodians.length],
  ['tasks_guarded', 'Tasks of other owners this node guards as a custodian', (s) => s.custody.guarded],
  [
    'results_unsent',
    'Results made here whose first copy or notice has not left this node',
    (s) => s.unsentResults,
  ],
]

type Labels = Record<string, string>

/** A counter whose values are copied from the node's own counts at each scrape. */
class MirroredCounter {
  private readonly counter: Counter<string>
  constructor(registry: Registry, name: string, help: string, labelNames: string[] = []) {
    this.counter = new Counter({ name: `taskmesh_${name}_total`, help, labelNames, registers: [registry] })
  }
  set(values: Array<[Labels, number]>): void {
    this.counter.reset()
    for (const [labels, value] of values) this.counter.inc(labels, value)
  }
}

/**
 * The gauges and counters of a node's status (`status()`: counters, queues, leases, peers, inbound
 * budget) and of its accounting (messages and bytes per protocol and gossip topic, signatures,
 * datastore and journal calls), copied in at each scrape by {@link update}.
 */
export class StatusMetrics {
  private readonly counters = new Map<keyof NodeCounters, MirroredCounter>()
  private readonly gauges: Array<[Gauge, (s: NodeStatus) => number]>
  private readonly streams: MirroredCounter
  private readonly messages: MirroredCounter
  private readonly bytes: MirroredCounter
  private readonly gossip: MirroredCounter
  private readonly gossipBytes: MirroredCounter
  private readonly signatures: MirroredCounter
  private readonly datastore: MirroredCounter
  private readonly datastoreBytes: MirroredCounter
  private readonly journal: MirroredCounter
  private readonly journalBytes: MirroredCounter
  private readonly wire: MirroredCounter
  private readonly wireBytes: MirroredCounter
  private readonly evictions: MirroredCounter
  private readonly trimmed: MirroredCounter

  constructor(registry: Registry) {
    for (const [key, name, help] of COUNTERS)
      this.counters.set(key, new MirroredCounter(registry, name, help))
    this.gauges = GAUGES.map(([name, help, read]) => [
      new Gauge({ name: `taskmesh_${name}`, help, registers: [registry] }),
      read,
    ])
    const m = (name: string, help: string, labels: string[]) =>
      new MirroredCounter(registry, name, help, labels)
    this.streams = m('protocol_streams', 'Streams opened per protocol and direction', [
      'protocol',
      'direction',
    ])
    this.messages = m('protocol_messages', 'Sends and receives per protocol', ['protocol', 'direction'])
    this.bytes = m('protocol_bytes', 'Bytes per protocol', ['protocol', 'direction'])
    // one unit a metric: a sum over its labels means something
    this.wire = m('connection_messages', 'Messages on every connection, all protocols', ['direction'])
    this.wireBytes = m('connection_bytes', 'Bytes on the wire on every connection', ['direction'])
    this.gossip = m('gossip_messages', 'Gossip messages per topic', ['topic', 'direction'])
    this.gossipBytes = m('gossip_bytes', 'Gossip bytes per topic', ['topic', 'direction'])
    this.signatures = m(
      'signatures',
      'Ed25519 signatures made, verified, and taken from their signer on its own stream (op from_signer)',
      ['kind', 'op'],
    )
    this.datastore = m('datastore_calls', 'Datastore calls per namespace', ['namespace', 'op'])
    this.datastoreBytes = m('datastore_bytes_written', 'Bytes written to the datastore per namespace', [
      'namespace',
    ])
    this.journal = m('journal', 'Task journal: writes (group commits), entries, fsyncs, compactions', [
      'what',
    ])
    this.journalBytes = m('journal_bytes', 'Bytes written to the task journal', [])
    this.evictions = m('inbound_evictions', 'Inbound streams closed to keep within the byte budget', [])
    this.trimmed = m('connections_trimmed', 'Connections closed to bring the node back to its limit', [])
  }

  /** Copies a status snapshot into the metrics. */
  update(s: NodeStatus): void {
    for (const [key, counter] of this.counters) counter.set([[{}, s.counters[key]]])
    for (const [gauge, read] of this.gauges) gauge.set(read(s))
    const a = s.accounting
    const perProtocol = Object.entries(a.protocols)
    const both = <T>(rows: Array<[string, T]>, label: string, pick: (c: T, out: boolean) => number) =>
      rows.flatMap(
        ([name, c]): Array<[Labels, number]> => [
          [{ [label]: name, direction: 'in' }, pick(c, false)],
          [{ [label]: name, direction: 'out' }, pick(c, true)],
        ],
      )
    this.streams.set(
      both(Object.entries(a.protocols), 'protocol', (c, out) => (out ? c.streamsOut : c.streamsIn)),
    )
    this.messages.set(both(perProtocol, 'protocol', (c, out) => (out ? c.sends : c.receives)))
    this.bytes.set(both(perProtocol, 'protocol', (c, out) => (out ? c.bytesOut : c.bytesIn)))
    const wire = a.connections
    this.wire.set([
      [{ direction: 'in' }, wire.receives],
      [{ direction: 'out' }, wire.sends],
    ])
    this.wireBytes.set([
      [{ direction: 'in' }, wire.bytesIn],
      [{ direction: 'out' }, wire.bytesOut],
    ])
    const topics = Object.entries(a.topics)
    this.gossip.set(both(topics, 'topic', (c, out) => (out ? c.published : c.received)))
    this.gossipBytes.set(both(topics, 'topic', (c, out) => (out ? c.publishedBytes : c.receivedBytes)))
    const sig = a.signatures
    this.signatures.set([
      [{ kind: 'record_batch', op: 'sign' }, sig.recordBatchesSigned],
      [{ kind: 'record', op: 'sign' }, sig.recordsSigned],
      [{ kind: 'grant', op: 'sign' }, sig.grantsSigned],
      [{ kind: 'grant_batch', op: 'sign' }, sig.grantBatchesSigned],
      [{ kind: 'gossip', op: 'sign' }, sig.gossipSigned],
      [{ kind: 'record_batch', op: 'verify' }, sig.recordBatchesVerified],
      [{ kind: 'record', op: 'from_signer' }, sig.recordsFromSigner],
      [{ kind: 'grant', op: 'verify' }, sig.grantsVerified],
      [{ kind: 'gossip', op: 'verify' }, sig.gossipVerified],
    ])
    const stores = Object.entries(a.datastore)
    this.datastore.set(
      stores.flatMap(([namespace, c]) =>
        Object.entries(c)
          .filter(([op]) => op !== 'bytesWritten')
          .map(([op, n]): [Labels, number] => [{ namespace, op }, n]),
      ),
    )
    this.datastoreBytes.set(stores.map(([namespace, c]): [Labels, number] => [{ namespace }, c.bytesWritten]))
    const { bytes: journalBytes, ...journalCounts } = a.journal
    this.journal.set(Object.entries(journalCounts).map(([what, n]): [Labels, number] => [{ what }, n]))
    this.journalBytes.set([[{}, journalBytes]])
    this.evictions.set([[{}, s.inbound.evictions]])
    this.trimmed.set([[{}, s.connections.trimmed]])
  }
}
