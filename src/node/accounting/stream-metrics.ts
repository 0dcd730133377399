import type {
  Counter,
  CounterGroup,
  Histogram,
  HistogramGroup,
  MessageStream,
  Metric,
  MetricGroup,
  Metrics,
  MultiaddrConnection,
  Stream,
  StreamMessageEvent,
  Summary,
  SummaryGroup,
} from '@libp2p/interface'
import {
  BEACON_PROTOCOL,
  BEACON_PROTOCOL_1_1,
  CUSTODY_PROTOCOL,
  DHT_PROTOCOL,
  FETCH_PROTOCOL,
  REPLICATE_PROTOCOL,
  STEAL_PROTOCOL,
  STEAL_PROTOCOL_1_1,
  SUBMIT_PROTOCOL,
} from '../../protocol/constants.ts'

/** What went through the streams of one protocol (or through the node's connections). */
export interface StreamCounts {
  streamsIn: number
  streamsOut: number
  /** `send` calls: a frame, or several frames written together. */
  sends: number
  bytesOut: number
  /** Deliveries from the muxer: a frame, several, or part of one. */
  receives: number
  bytesIn: number
}

/** Counts of streams that carried nothing yet. */
export function createStreamCounts(): StreamCounts {
  return { streamsIn: 0, streamsOut: 0, sends: 0, bytesOut: 0, receives: 0, bytesIn: 0 }
}

const NAMES: Record<string, string> = {
  [STEAL_PROTOCOL]: 'steal',
  [STEAL_PROTOCOL_1_1]: 'steal',
  [SUBMIT_PROTOCOL]: 'submit',
  [REPLICATE_PROTOCOL]: 'replicate',
  [BEACON_PROTOCOL]: 'beacon',
  [BEACON_PROTOCOL_1_1]: 'beacon',
  [CUSTODY_PROTOCOL]: 'custody',
  [FETCH_PROTOCOL]: 'fetch',
  [DHT_PROTOCOL]: 'kad-dht',
  '/ipfs/id/1.0.0': 'identify',
  '/ipfs/id/push/1.0.0': 'identify',
  '/ipfs/ping/1.0.0': 'ping',
}

/**
 * The name accounting files a protocol id under: steal, submit, replicate, beacon, custody, fetch, kad-dht,
 * identify, ping, gossipsub, else the id.
 */
export function protocolName(protocol: string): string {
  const known = NAMES[protocol]
  if (known !== undefined) return known
  if (protocol.startsWith('/meshsub/') || protocol.startsWith('/floodsub/')) return 'gossipsub'
  return protocol
}

/**
 * Wraps one stream's `send` and `dispatchEvent` so every write and every delivered message adds to
 * `counts`: two closures per stream, two additions per message. Listening for 'message' instead
 * would start the stream flowing before its handler listens, so the count taps the dispatch.
 */
function track(stream: MessageStream, counts: StreamCounts): void {
  if (stream.direction === 'inbound') counts.streamsIn++
  else counts.streamsOut++
  const send = stream.send.bind(stream)
  stream.send = (data) => {
    counts.sends++
    counts.bytesOut += data.byteLength
    return send(data)
  }
  const dispatch = stream.dispatchEvent.bind(stream)
  stream.dispatchEvent = (event: Event) => {
    if (event.type === 'message') {
      counts.receives++
      counts.bytesIn += (event as StreamMessageEvent).data.byteLength
    }
    return dispatch(event)
  }
}

const noop = () => undefined
const metric: Metric & MetricGroup & Counter & CounterGroup = {
  update: noop,
  increment: noop,
  decrement: noop,
  reset: noop,
  timer: () => noop,
}
const histogram: Histogram & HistogramGroup & Summary & SummaryGroup = {
  observe: noop,
  reset: noop,
  timer: () => noop,
}

/** libp2p's counter group of inbound connections whose upgrade threw, by the error's name. */
const INBOUND_ERRORS = 'libp2p_connection_manager_dials_inbound_errors_total'

/**
 * A libp2p `Metrics` that counts messages and bytes per protocol (libp2p hands it every protocol
 * stream once negotiated) and on the node's connections (bytes on the wire: Noise, Yamux and
 * multistream included). Every other metric is a shared no-op: no registry, no labels, and
 * calculated metrics are never called. (Gossipsub's own metrics hang on its `metricsRegister`
 * option, not on this component, so they stay off.)
 */
export class StreamMetrics implements Metrics {
  /** Per protocol name (see {@link protocolName}). */
  readonly protocols = new Map<string, StreamCounts>()
  /** The node's connections, below encryption and muxing. */
  readonly connections: StreamCounts = createStreamCounts()
  /** Inbound connections that failed before they were upgraded, by the error's name. */
  readonly inboundFailures = new Map<string, number>()
  /** Called for each inbound connection that failed before it was upgraded (the error's name). */
  onInboundFailure: ((name: string) => void) | undefined
  /** The one counter group read: libp2p counts there each inbound upgrade that threw. */
  private readonly inboundErrors = {
    ...metric,
    increment: (values: Record<string, number | true>) => {
      for (const name of Object.keys(values)) {
        this.inboundFailures.set(name, (this.inboundFailures.get(name) ?? 0) + 1)
        this.onInboundFailure?.(name)
      }
    },
  }

  trackMultiaddrConnection(maConn: MultiaddrConnection): void {
    track(maConn, this.connections)
  }

  trackProtocolStream(stream: Stream): void {
    if (stream.protocol === '') return
    const name = protocolName(stream.protocol)
    let counts = this.protocols.get(name)
    if (counts === undefined) {
      counts = createStreamCounts()
      this.protocols.set(name, counts)
    }
    track(stream, counts)
  }

  // biome-ignore lint/suspicious/noExplicitAny: the overloads return a metric or nothing (calculated)
  registerMetric = (): any => metric
  // biome-ignore lint/suspicious/noExplicitAny: as above
  registerMetricGroup = (): any => metric
  // biome-ignore lint/suspicious/noExplicitAny: as above
  registerCounter = (): any => metric
  // biome-ignore lint/suspicious/noExplicitAny: as above
  registerCounterGroup = (name: string): any => (name === INBOUND_ERRORS ? this.inboundErrors : metric)
  // biome-ignore lint/suspicious/noExplicitAny: as above
  registerHistogram = (): any => histogram
  // biome-ignore lint/suspicious/noExplicitAny: as above
  registerHistogramGroup = (): any => histogram
  // biome-ignore lint/suspicious/noExplicitAny: as above
  registerSummary = (): any => histogram
  // biome-ignore lint/suspicious/noExplicitAny: as above
  registerSummaryGroup = (): any => histogram

  traceFunction<F>(_name: string, fn: F): F {
    return fn
  }

  createTrace(): undefined {
    return undefined
  }
}
