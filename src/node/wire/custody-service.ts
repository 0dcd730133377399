import { setMaxListeners } from 'node:events'
import type { PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { CUSTODY_PROTOCOL, MAX_FRAME_BYTES } from '../../protocol/constants.ts'
import {
  type CustodyFrame,
  type CustodyReply,
  custodyFrameSchema,
  custodyReplySchema,
} from '../../protocol/messages/custody-messages.ts'
import { RpcSession, serveSession } from '../../protocol/rpc/rpc-session.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'
import type { StreamLimits } from './stream-limits.ts'
import type { WorkTags } from './work-tags.ts'

/** Inbound custody streams one peer may hold open at once. */
export const MAX_INBOUND_CUSTODY_STREAMS = 8
/** Deadline of one custody request, in ms. */
export const CUSTODY_TIMEOUT_MS = 10_000

/** What a custodian answers to an owner's frame (the sender is the connection's peer). */
export type CustodyHandler = (from: string, frame: CustodyFrame) => CustodyReply | Promise<CustodyReply>

/**
 * `/taskmesh/custody/1.0.0`: an owner keeps one session stream to each of its custodians and sends
 * `hold` (specs of tasks it took) and `drop` (tasks that ended) frames on it; the custodian answers
 * each with what it holds. Bad frames abort the stream; the node keeps serving.
 */
export class CustodyService {
  private readonly sessions = new Map<string, RpcSession<CustodyReply>>()
  private readonly stopping = new AbortController()
  private handler: CustodyHandler | undefined

  constructor(
    private readonly libp2p: MeshLibp2p,
    private readonly opts: { limits?: StreamLimits; tags?: Pick<WorkTags, 'touch'> } = {},
  ) {
    // every frame in flight listens to it until its reply is in: a node meeting a hundred peers
    // at once greets each (`forget`)
    setMaxListeners(Number.POSITIVE_INFINITY, this.stopping.signal)
  }

  /** Serves the custodian side with `handler` (before {@link start}; without it, frames get an error reply). */
  serveWith(handler: CustodyHandler): void {
    this.handler = handler
  }

  async start(): Promise<void> {
    await this.libp2p.handle(
      CUSTODY_PROTOCOL,
      (stream, connection) => this.serve(stream, connection.remotePeer),
      {
        maxInboundStreams: MAX_INBOUND_CUSTODY_STREAMS,
      },
    )
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
  }

  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return
    this.stopping.abort()
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    for (const session of this.sessions.values()) session.close()
    this.sessions.clear()
    await this.libp2p.unhandle(CUSTODY_PROTOCOL).catch(() => undefined)
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
    return this.sessionTo(peer).request(frame, undefined, options)
  }

  private serve(stream: Stream, peer: PeerId): Promise<void> {
    const from = peer.toString()
    this.opts.tags?.touch(peer)
    const notReady = (requestId: string): CustodyReply => ({
      type: 'error',
      requestId,
      code: 'ERR_NOT_READY',
      message: 'node is starting',
    })
    return serveSession(
      stream,
      custodyFrameSchema,
      (frame) => this.handler?.(from, frame) ?? notReady(frame.requestId),
      {
        maxBytes: MAX_FRAME_BYTES,
        what: 'custody frame',
        idleMs: this.opts.limits?.requestTimeoutMs,
        budget: this.opts.limits?.budget,
      },
    )
  }

  private sessionTo(peer: string): RpcSession<CustodyReply> {
    let session = this.sessions.get(peer)
    if (session === undefined) {
      const id: PeerId = peerIdFromString(peer)
      session = new RpcSession<CustodyReply>({
        open: (signal) => this.libp2p.dialProtocol(id, CUSTODY_PROTOCOL, { signal }),
        replySchema: custodyReplySchema,
        maxBytes: MAX_FRAME_BYTES,
        what: 'custody reply',
        signal: this.stopping.signal,
      })
      this.sessions.set(peer, session)
    }
    return session
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    this.sessions.get(id)?.close()
    this.sessions.delete(id)
  }
}
