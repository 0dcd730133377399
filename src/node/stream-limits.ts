import { InboundBudget } from '../protocol/inbound-budget.ts'
import type { ResolvedNodeOptions } from './options.ts'

/** What bounds the inbound streams of a node's steal and submit protocols. */
export interface StreamLimits {
  /** An inbound request frame must arrive within this long of its stream opening, ms. */
  requestTimeoutMs: number
  /** Shared by both protocols: bytes of unfinished inbound requests held at once. */
  budget: InboundBudget
}

/** The stream limits a node's options ask for (one budget shared by both protocols). */
export function streamLimits(
  opts: Pick<ResolvedNodeOptions, 'requestTimeoutMs' | 'maxInboundRequestBytes'>,
): StreamLimits {
  return { requestTimeoutMs: opts.requestTimeoutMs, budget: new InboundBudget(opts.maxInboundRequestBytes) }
}
