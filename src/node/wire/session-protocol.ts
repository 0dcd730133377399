import { setMaxListeners } from 'node:events'
import type { PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { z } from 'zod'
import { MAX_FRAME_BYTES } from '../../protocol/constants.ts'
import { type Framed, RpcSession, serveSession } from '../../protocol/rpc/rpc-session.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'
import { abortReporter, type StreamLimits } from './stream-limits.ts'

/** Options of {@link SessionProtocol}. */
export interface SessionProtocolOptions<Req extends Framed, Res extends Framed> {
  protocol: string
  requestSchema: z.ZodType<Req>
  replySchema: z.ZodType<Res>
  /** Names in error messages: `<what> frame`, `<what> reply`. */
  what: string
  /** Inbound streams of the protocol one peer may hold open at once. */
  maxInboundStreams: number
  /** Answers a peer's request (`from`: the connection's peer; `bytes`: the frame's length). */
  serve(from: PeerId, request: Req, bytes: number): Res | Promise<Res>
  limits?: StreamLimits
}

/**
 * A request–reply protocol on session streams (`RpcSession`, `serveSession`): the serving side
 * once started, and on the asking side one session per peer, made on first use and closed when
 * the peer disconnects. Bad frames abort the stream; the node keeps serving.
 */
export class SessionProtocol<Req extends Framed, Res extends Framed> {
  private readonly sessions = new Map<string, RpcSession<Res>>()
  private readonly stopping = new AbortController()

  constructor(
    private readonly libp2p: MeshLibp2p,
    private readonly opts: SessionProtocolOptions<Req, Res>,
  ) {
    // every request in flight listens to it until its reply is in
    setMaxListeners(Number.POSITIVE_INFINITY, this.stopping.signal)
  }

  /** Serves the protocol (before libp2p starts, or after). */
  async start(): Promise<void> {
    const { protocol, maxInboundStreams } = this.opts
    await this.libp2p.handle(protocol, (stream, connection) => this.serve(stream, connection.remotePeer), {
      maxInboundStreams,
    })
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
  }

  /** Stops serving and fails the requests in flight. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return
    this.stopping.abort()
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    for (const session of this.sessions.values()) session.close()
    this.sessions.clear()
    await this.libp2p.unhandle(this.opts.protocol).catch(() => undefined)
  }

  /** The session to `peer` (its stream opened at its first request). */
  to(peer: string): RpcSession<Res> {
    let session = this.sessions.get(peer)
    if (session === undefined) {
      const id = peerIdFromString(peer)
      session = new RpcSession<Res>({
        open: (signal) => this.libp2p.dialProtocol(id, this.opts.protocol, { signal }),
        replySchema: this.opts.replySchema,
        maxBytes: MAX_FRAME_BYTES,
        what: `${this.opts.what} reply`,
        signal: this.stopping.signal,
      })
      this.sessions.set(peer, session)
    }
    return session
  }

  private serve(stream: Stream, from: PeerId): Promise<void> {
    const { limits } = this.opts
    return serveSession(
      stream,
      this.opts.requestSchema,
      (req, frame) => this.opts.serve(from, req, frame.byteLength),
      {
        maxBytes: MAX_FRAME_BYTES,
        what: `${this.opts.what} frame`,
        idleMs: limits?.requestTimeoutMs,
        budget: limits?.budget,
        onError: abortReporter(limits, this.opts.protocol, from.toString()),
      },
    )
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    this.sessions.get(id)?.close()
    this.sessions.delete(id)
  }
}
