import { InboundBudget } from '../../protocol/rpc/inbound-budget.ts'
import type { ResolvedNodeOptions } from '../options.ts'

/** What bounds the inbound streams of a node's steal and submit protocols. */
export interface StreamLimits {
  /** An inbound request frame must arrive within this long of its stream opening, ms. */
  requestTimeoutMs: number
  /** Shared by all inbound protocols: bytes of unfinished inbound requests held at once. */
  budget: InboundBudget
  /**
   * Told of every inbound stream the node aborted (a malformed, oversized or wrong-schema frame,
   * a silent stream, a reset), with the protocol and the peer; the node's assembly sets it to log
   * them. Must not throw. @defaultValue told to no one
   */
  onAborted?: (protocol: string, from: string, err: Error) => void
}

/** The `onError` of a served stream of `protocol` from `from`: tells `limits.onAborted`. */
export function abortReporter(
  limits: StreamLimits | undefined,
  protocol: string,
  from: string,
): (err: Error) => void {
  return (err) => limits?.onAborted?.(protocol, from, err)
}

/** One set of limits per node: its options object is resolved once, so it keys them. */
const perNode = new WeakMap<object, StreamLimits>()

/**
 * The stream limits a node's options ask for: one budget shared by all its inbound protocols
 * (steal, submit, replicate). The same options object always gives the same limits.
 */
export function streamLimits(
  opts: Pick<ResolvedNodeOptions, 'requestTimeoutMs' | 'maxInboundRequestBytes'>,
): StreamLimits {
  let limits = perNode.get(opts)
  if (limits === undefined) {
    limits = {
      requestTimeoutMs: opts.requestTimeoutMs,
      budget: new InboundBudget(opts.maxInboundRequestBytes),
    }
    perNode.set(opts, limits)
  }
  return limits
}
