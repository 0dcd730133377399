import type { PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { MAX_FRAME_BYTES, STEAL_PROTOCOL } from '../protocol/constants.ts'
import type {
  CompleteReply,
  CompleteRequest,
  ReleaseReply,
  ReleaseRequest,
  RenewReply,
  RenewRequest,
  StealGrant,
  StealReply,
  StealRequest,
} from '../protocol/messages.ts'
import { stealFrameSchema, stealReplySchema } from '../protocol/messages.ts'
import { requestOnce, serveFrames } from '../protocol/rpc.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'

/** Inbound steal-protocol streams one peer may hold open at once. */
export const MAX_INBOUND_STEAL_STREAMS = 64
/** Outbound steal-protocol streams to one peer at once. */
export const MAX_OUTBOUND_STEAL_STREAMS = 64
/** Default deadline of one steal-protocol request. */
export const STEAL_TIMEOUT_MS = 5_000

/** The owner side of the steal protocol: what the node answers. */
export interface StealHandlers {
  onSteal(from: string, req: StealRequest): StealGrant
  onRenew(from: string, req: RenewRequest): RenewReply
  onComplete(from: string, req: CompleteRequest): Promise<CompleteReply>
  onRelease(from: string, req: ReleaseRequest): ReleaseReply
}

type ReplyOf<R> = R extends StealRequest
  ? StealGrant
  : R extends RenewRequest
    ? RenewReply
    : R extends CompleteRequest
      ? CompleteReply
      : ReleaseReply

/**
 * `/taskmesh/steal/1.0.0`: one request frame and one reply frame per stream, length-prefixed
 * JSON. Malformed or oversized frames abort the stream; the node keeps serving.
 */
export class StealService {
  constructor(
    private readonly libp2p: MeshLibp2p,
    private readonly handlers: StealHandlers,
  ) {}

  async start(): Promise<void> {
    await this.libp2p.handle(
      STEAL_PROTOCOL,
      (stream, connection) => this.serve(stream, connection.remotePeer),
      {
        maxInboundStreams: MAX_INBOUND_STEAL_STREAMS,
        maxOutboundStreams: MAX_OUTBOUND_STEAL_STREAMS,
      },
    )
  }

  async stop(): Promise<void> {
    await this.libp2p.unhandle(STEAL_PROTOCOL)
  }

  /** Sends one request to `peer` and returns its reply; rejects on timeout, error reply or a bad frame. */
  async request<R extends StealRequest | RenewRequest | CompleteRequest | ReleaseRequest>(
    peer: string,
    req: R,
    signal: AbortSignal = AbortSignal.timeout(STEAL_TIMEOUT_MS),
  ): Promise<ReplyOf<R>> {
    const stream = await this.libp2p.dialProtocol(peerIdFromString(peer), STEAL_PROTOCOL, { signal })
    const reply = await requestOnce<StealReply>(stream, req, stealReplySchema, {
      signal,
      maxBytes: MAX_FRAME_BYTES,
    })
    if (reply.type === 'error')
      throw new Error(`${peer} refused ${req.type}: ${reply.code}: ${reply.message}`)
    return reply as ReplyOf<R>
  }

  private async serve(stream: Stream, remote: PeerId): Promise<void> {
    const from = remote.toString()
    await serveFrames(
      stream,
      stealFrameSchema,
      async (req, send) => {
        switch (req.type) {
          case 'steal':
            return send(this.handlers.onSteal(from, req))
          case 'renew':
            return send(this.handlers.onRenew(from, req))
          case 'complete':
            return send(await this.handlers.onComplete(from, req))
          case 'release':
            return send(this.handlers.onRelease(from, req))
        }
      },
      { maxBytes: MAX_FRAME_BYTES, what: 'steal frame' },
    )
  }
}
