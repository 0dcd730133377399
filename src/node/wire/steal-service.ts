import type { IdentifyResult, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { MAX_FRAME_BYTES, STEAL_PROTOCOL, STEAL_PROTOCOL_1_1 } from '../../protocol/constants.ts'
import type {
  CompleteReply,
  CompleteRequest,
  ErrorReply,
  OfferedReply,
  OfferRequest,
  ReleaseReply,
  ReleaseRequest,
  RenewReply,
  RenewRequest,
  StealGrant,
  StealReply,
  StealRequest,
} from '../../protocol/messages/messages.ts'
import { stealFrameSchema, stealFrameSchema10, stealReplySchema } from '../../protocol/messages/messages.ts'
import { RpcSession, serveSession } from '../../protocol/rpc/rpc-session.ts'
import { turnEnd } from '../../util/in-turns.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'
import { abortReporter, type StreamLimits } from './stream-limits.ts'
import type { WorkTags } from './work-tags.ts'

/** Inbound steal-protocol streams one peer may hold open at once. */
export const MAX_INBOUND_STEAL_STREAMS = 64
/** Outbound steal-protocol streams to one peer at once. */
export const MAX_OUTBOUND_STEAL_STREAMS = 64
/** Default deadline of one steal-protocol request. */
export const STEAL_TIMEOUT_MS = 5_000

/** A peer answered a steal-protocol request with an `error` reply: it did nothing of what was asked. */
export class StealRefusedError extends Error {
  constructor(
    readonly peer: string,
    readonly request: string,
    readonly code: string,
    message: string,
  ) {
    super(`${peer} refused ${request}: ${code}: ${message}`)
    this.name = 'StealRefusedError'
  }
}

/** What the node answers on the steal protocol: the owner's side, and the thief's to an offer. */
export interface StealHandlers {
  onSteal(from: string, req: StealRequest): StealGrant
  onRenew(from: string, req: RenewRequest): RenewReply
  onComplete(from: string, req: CompleteRequest): Promise<CompleteReply>
  onRelease(from: string, req: ReleaseRequest): ReleaseReply
  /** The thief side: an owner offers queued tasks (steal 1.1); an `error` reply takes none of them. */
  onOffer(from: string, req: OfferRequest): OfferedReply | ErrorReply
}

type Request = StealRequest | RenewRequest | CompleteRequest | ReleaseRequest | OfferRequest

type ReplyOf<R> = R extends StealRequest
  ? StealGrant
  : R extends RenewRequest
    ? RenewReply
    : R extends CompleteRequest
      ? CompleteReply
      : R extends OfferRequest
        ? OfferedReply
        : ReleaseReply

/**
 * The answer to an owner's offer, released at the end of the turn: the tasks taken start in this
 * turn, and what the turn sends — a quick task's completion to the same owner, its signature made —
 * goes ahead of the answer on this thread, not behind it.
 */
export async function answerOffer<R>(reply: R): Promise<R> {
  await turnEnd()
  return reply
}

/**
 * `/taskmesh/steal/1.1.0` (and `1.0.0`, without offers, for peers that serve only it):
 * length-prefixed JSON frames on a session stream — a node keeps one stream to each peer it asks
 * and sends every request on it (replies are matched by `requestId`). Malformed or oversized frames
 * abort the stream; the node keeps serving.
 */
export class StealService {
  private readonly sessions = new Map<string, RpcSession<StealReply>>()
  /** Connected peers whose identify lists steal 1.1: the ones an owner may offer tasks to. */
  private readonly offerable = new Set<string>()
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
    const limits = {
      maxInboundStreams: MAX_INBOUND_STEAL_STREAMS,
      maxOutboundStreams: MAX_OUTBOUND_STEAL_STREAMS,
    }
    await this.libp2p.handle(STEAL_PROTOCOL_1_1, (s, c) => this.serve(s, c.remotePeer, false), limits)
    await this.libp2p.handle(STEAL_PROTOCOL, (s, c) => this.serve(s, c.remotePeer, true), limits)
    this.libp2p.addEventListener('peer:identify', this.onIdentify)
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
  }

  async stop(): Promise<void> {
    for (const session of this.sessions.values()) session.close()
    this.sessions.clear()
    this.offerable.clear()
    this.libp2p.removeEventListener('peer:identify', this.onIdentify)
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    await this.libp2p.unhandle(STEAL_PROTOCOL_1_1)
    await this.libp2p.unhandle(STEAL_PROTOCOL)
  }

  /** True when `peer` serves steal 1.1, so it may be offered tasks. */
  takesOffers(peer: string): boolean {
    return this.offerable.has(peer)
  }

  /**
   * Sends one request to `peer` and returns its reply; rejects on timeout (`timeoutMs`, by default
   * {@link STEAL_TIMEOUT_MS}), error reply or a bad frame.
   */
  async request<R extends Request>(
    peer: string,
    req: R,
    timeoutMs: number = STEAL_TIMEOUT_MS,
  ): Promise<ReplyOf<R>> {
    // renew, complete and release are safe to repeat; a steal is not (it could be granted twice),
    // nor is an offer sent again: unanswered, its leases run out as a lost grant's do
    this.opts.tags?.touch(peer)
    const retry = req.type !== 'steal' && req.type !== 'offer'
    const reply = await this.sessionTo(peer).request(req, undefined, { retry, timeoutMs })
    if (reply.type === 'error') throw new StealRefusedError(peer, req.type, reply.code, reply.message)
    return reply as ReplyOf<R>
  }

  private sessionTo(peer: string): RpcSession<StealReply> {
    let session = this.sessions.get(peer)
    if (session === undefined) {
      const id = peerIdFromString(peer)
      session = new RpcSession<StealReply>({
        // 1.1 when the peer serves it (its replies are those of 1.0 and `offered`)
        open: (signal) => this.libp2p.dialProtocol(id, [STEAL_PROTOCOL_1_1, STEAL_PROTOCOL], { signal }),
        replySchema: stealReplySchema,
        maxBytes: MAX_FRAME_BYTES,
        what: 'steal reply',
      })
      this.sessions.set(peer, session)
    }
    return session
  }

  /**
   * What a peer serves, as its identify tells. Not the peer store's protocol list: libp2p adds to it
   * every protocol a peer opened a stream of, and a node that dials with 1.1 need not serve it.
   */
  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const peer = evt.detail.peerId.toString()
    if (evt.detail.protocols.includes(STEAL_PROTOCOL_1_1)) this.offerable.add(peer)
    else this.offerable.delete(peer)
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail.toString()
    this.sessions.get(peer)?.close()
    this.sessions.delete(peer)
    this.offerable.delete(peer)
  }

  private async serve(stream: Stream, remote: PeerId, v10: boolean): Promise<void> {
    const from = remote.toString()
    this.opts.tags?.touch(remote)
    await serveSession(
      stream,
      // a 1.0 stream refuses an offer like any unknown frame
      v10 ? stealFrameSchema10 : stealFrameSchema,
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
          case 'offer':
            return answerOffer(handlers.onOffer(from, req))
        }
      },
      {
        maxBytes: MAX_FRAME_BYTES,
        what: 'steal frame',
        idleMs: this.opts.limits?.requestTimeoutMs,
        budget: this.opts.limits?.budget,
        onError: abortReporter(this.opts.limits, v10 ? STEAL_PROTOCOL : STEAL_PROTOCOL_1_1, from),
      },
    )
  }
}
