import type { PeerId } from '@libp2p/interface'
import { FETCH_PROTOCOL } from '../../protocol/constants.ts'
import {
  type FetchReply,
  type FetchRequest,
  fetchReplySchema,
  fetchRequestSchema,
} from '../../protocol/messages/fetch-messages.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'
import { SessionProtocol } from './session-protocol.ts'
import type { StreamLimits } from './stream-limits.ts'

/** Inbound fetch streams one peer may hold open at once. */
export const MAX_INBOUND_FETCH_STREAMS = 4
/** Deadline of one fetch request, in ms. */
export const FETCH_TIMEOUT_MS = 10_000

/** What this node answers to a peer's `fetch`. */
export type FetchHandler = (frame: FetchRequest) => Promise<FetchReply>

/**
 * `/taskmesh/fetch/1.0.0`: a node asks the peers closest to many tasks' keys, in one frame each,
 * which of those tasks have a result record stored there (see `BatchLookup`). One session stream
 * per peer asked.
 */
export class FetchService {
  private readonly sessions: SessionProtocol<FetchRequest, FetchReply>

  constructor(libp2p: MeshLibp2p, handler: FetchHandler, opts: { limits?: StreamLimits } = {}) {
    this.sessions = new SessionProtocol(libp2p, {
      ...{ protocol: FETCH_PROTOCOL, requestSchema: fetchRequestSchema, replySchema: fetchReplySchema },
      ...{ what: 'fetch', maxInboundStreams: MAX_INBOUND_FETCH_STREAMS, limits: opts.limits },
      serve: (_from, frame) => handler(frame),
    })
  }

  start(): Promise<void> {
    return this.sessions.start()
  }

  stop(): Promise<void> {
    return this.sessions.stop()
  }

  /**
   * Asks `peer` which of the tasks of `frame` have a record stored there.
   * @throws an RPC error when it fails.
   */
  request(peer: PeerId | string, frame: FetchRequest): Promise<FetchReply> {
    const session = this.sessions.to(peer.toString())
    return session.request(frame, undefined, { retry: true, timeoutMs: FETCH_TIMEOUT_MS })
  }
}
