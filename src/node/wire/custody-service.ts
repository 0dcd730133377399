import type { PeerId } from '@libp2p/interface'
import { CUSTODY_PROTOCOL } from '../../protocol/constants.ts'
import {
  type CustodyFrame,
  type CustodyReply,
  custodyFrameSchema,
  custodyReplySchema,
} from '../../protocol/messages/custody-messages.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'
import { SessionProtocol } from './session-protocol.ts'
import type { StreamLimits } from './stream-limits.ts'
import type { WorkTags } from './work-tags.ts'

/** Inbound custody streams one peer may hold open at once. */
export const MAX_INBOUND_CUSTODY_STREAMS = 8
/** Deadline of one custody request, in ms. */
export const CUSTODY_TIMEOUT_MS = 10_000

/** What a custodian answers to an owner's frame (the sender is the connection's peer). */
export type CustodyHandler = (
  from: string,
  frame: CustodyFrame,
  bytes: number,
) => CustodyReply | Promise<CustodyReply>

/**
 * `/taskmesh/custody/1.0.0`: an owner keeps one session stream to each of its custodians and sends
 * `hold` (specs of tasks it took) and `drop` (tasks that ended) frames on it; the custodian answers
 * each with what it holds. Bad frames abort the stream; the node keeps serving.
 */
export class CustodyService {
  private readonly sessions: SessionProtocol<CustodyFrame, CustodyReply>
  private handler: CustodyHandler | undefined

  constructor(
    libp2p: MeshLibp2p,
    private readonly opts: { limits?: StreamLimits; tags?: Pick<WorkTags, 'touch'> } = {},
  ) {
    this.sessions = new SessionProtocol(libp2p, {
      ...{ protocol: CUSTODY_PROTOCOL, requestSchema: custodyFrameSchema, replySchema: custodyReplySchema },
      ...{ what: 'custody', maxInboundStreams: MAX_INBOUND_CUSTODY_STREAMS, limits: opts.limits },
      serve: (from, frame, bytes) => this.serve(from, frame, bytes),
    })
  }

  /** Serves the custodian side with `handler` (before {@link start}; without it, frames get an error reply). */
  serveWith(handler: CustodyHandler): void {
    this.handler = handler
  }

  start(): Promise<void> {
    return this.sessions.start()
  }

  stop(): Promise<void> {
    return this.sessions.stop()
  }

  /**
   * Sends one frame to a custodian and resolves with its answer.
   * @param encoded - the frame's bytes when the caller made them (`encodeHoldFrame`): sent as they are.
   * @throws an RPC error when it fails.
   */
  async request(peer: string, frame: CustodyFrame, encoded?: Uint8Array): Promise<CustodyReply> {
    this.opts.tags?.touch(peer)
    // holding a task again changes nothing: a frame whose stream ended is sent again
    const options = { retry: true, timeoutMs: CUSTODY_TIMEOUT_MS, encoded }
    return this.sessions.to(peer).request(frame, undefined, options)
  }

  private serve(peer: PeerId, frame: CustodyFrame, bytes: number): CustodyReply | Promise<CustodyReply> {
    this.opts.tags?.touch(peer)
    const notReady: CustodyReply = {
      type: 'error',
      requestId: frame.requestId,
      code: 'ERR_NOT_READY',
      message: 'node is starting',
    }
    return this.handler?.(peer.toString(), frame, bytes) ?? notReady
  }
}
