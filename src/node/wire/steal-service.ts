import type { PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { MAX_FRAME_BYTES, STEAL_PROTOCOL } from '../../protocol/constants.ts'
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
} from '../../protocol/messages/messages.ts'
import { stealFrameSchema, stealReplySchema } from '../../protocol/messages/messages.ts'
import { RpcSession, serveSession } from '../../protocol/rpc/rpc-session.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'
import type { StreamLimits } from './stream-limits.ts'
import type { WorkTags } from './work-tags.ts'

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
 * `/taskmesh/steal/1.0.0`: length-prefixed JSON frames on a session stream — a node keeps one
 * stream to each peer it asks and sends every request on it (replies are matched by `requestId`).
 * Malformed or oversized frames abort the stream; the node keeps serving.
 */
export class StealService {
  private readonly sessions = new Map<string, RpcSession<StealReply>>()
  private handlers: StealHandlers | undefined

  constructor(
    private readonly libp2p: MeshLibp2p,
    private readonly opts: { limits?: StreamLimits; tags?: Pick<WorkTags, 'touch'> } = {},
  ) {}

  /** Serves the owner side with `handlers` (before {@link start}; without them, requests get an error reply). */
  serveWith(handlers: StealHandlers): void {
    this.handlers = handlers
  }

  async start(): Promise<void> {
    await this.libp2p.handle(
      STEAL_PROTOCOL,
      (stream, connection) => this.serve(stream, connection.remotePeer),
      {
        maxInboundStreams: MAX_INBOUND_STEAL_STREAMS,
        maxOutboundStreams: MAX_OUTBOUND_STEAL_STREAMS,
      },
    )
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
  }

  async stop(): Promise<void> {
    for (const session of this.sessions.values()) session.close()
    this.sessions.clear()
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    await this.libp2p.unhandle(STEAL_PROTOCOL)
  }

  /** Sends one request to `peer` and returns its reply; rejects on timeout, error reply or a bad frame. */
  async request<R extends StealRequest | RenewRequest | CompleteRequest | ReleaseRequest>(
    peer: string,
    req: R,
    signal: AbortSignal = AbortSignal.timeout(STEAL_TIMEOUT_MS),
  ): Promise<ReplyOf<R>> {
    // renew, complete and release are safe to repeat; a steal is not (it could be granted twice)
    this.opts.tags?.touch(peer)
    const reply = await this.sessionTo(peer).request(req, signal, { retry: req.type !== 'steal' })
    if (reply.type === 'error')
      throw new Error(`${peer} refused ${req.type}: ${reply.code}: ${reply.message}`)
    return reply as ReplyOf<R>
  }

  private sessionTo(peer: string): RpcSession<StealReply> {
    let session = this.sessions.get(peer)
    if (session === undefined) {
      const id = peerIdFromString(peer)
      session = new RpcSession<StealReply>({
        open: (signal) => this.libp2p.dialProtocol(id, STEAL_PROTOCOL, { signal }),
        replySchema: stealReplySchema,
        maxBytes: MAX_FRAME_BYTES,
        what: 'steal reply',
      })
      this.sessions.set(peer, session)
    }
    return session
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail.toString()
    this.sessions.get(peer)?.close()
    this.sessions.delete(peer)
  }

  private async serve(stream: Stream, remote: PeerId): Promise<void> {
    const from = remote.toString()
    this.opts.tags?.touch(remote)
    await serveSession(
      stream,
      stealFrameSchema,
      async (req): Promise<StealReply> => {
        const { handlers } = this
        if (handlers === undefined) {
          return {
            type: 'error',
            requestId: req.requestId,
            code: 'ERR_NOT_READY',
            message: 'node is starting',
          }
        }
        switch (req.type) {
          case 'steal':
            return handlers.onSteal(from, req)
          case 'renew':
            return handlers.onRenew(from, req)
          case 'complete':
            return handlers.onComplete(from, req)
          case 'release':
            return handlers.onRelease(from, req)
        }
      },
      {
        maxBytes: MAX_FRAME_BYTES,
        what: 'steal frame',
        idleMs: this.opts.limits?.requestTimeoutMs,
        budget: this.opts.limits?.budget,
      },
    )
  }
}
