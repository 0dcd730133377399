import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { decodeMessage, encodeMessage } from '../protocol/codec.ts'
import { MAX_FRAME_BYTES, SUBMIT_PROTOCOL } from '../protocol/constants.ts'
import { type SubmitFrameReply, submitReplySchema } from '../protocol/messages.ts'
import { openResultRecord, type ResultRecord } from '../protocol/result-record.ts'
import { requestOnce } from '../protocol/rpc.ts'
import type { TaskSpecInput } from '../task/spec.ts'
import { RemoteError } from './remote-error.ts'

/** Default deadline of one light-client request. */
export const CLIENT_TIMEOUT_MS = 30_000

/** Options of {@link TaskmeshClient.connect}. */
export interface TaskmeshClientOptions {
  /** Name recorded as the submitter. @defaultValue the client's own peer id */
  submitter?: string
  /** libp2p pnet pre-shared key when the mesh is private. */
  swarmKey?: Uint8Array
}

/**
 * A light client: not a mesh node (no DHT, no gossip, no slots). It dials any one peer over
 * `/taskmesh/submit/1.0.0` to submit tasks, poll or watch results, and read status.
 */
export class TaskmeshClient {
  private constructor(
    private readonly libp2p: Libp2p,
    private readonly peer: ReturnType<typeof multiaddr>,
    private readonly submitter: string | undefined,
  ) {}

  /** Starts a minimal libp2p host and remembers the peer to talk to (a multiaddr with /p2p/<id>). */
  static async connect(peerAddr: string, opts: TaskmeshClientOptions = {}): Promise<TaskmeshClient> {
    const addr = multiaddr(peerAddr)
    if (addr.getComponents().find((c) => c.name === 'p2p') === undefined) {
      throw new Error(`peer address ${peerAddr} has no /p2p/<peer id> part`)
    }
    const { preSharedKey } = await import('@libp2p/pnet')
    const libp2p = await createLibp2p({
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionProtector: opts.swarmKey === undefined ? undefined : preSharedKey({ psk: opts.swarmKey }),
    })
    return new TaskmeshClient(libp2p, addr, opts.submitter)
  }

  /** Submits tasks; resolves with their ids, or rejects with the node's error (nothing queued). */
  async submit(specs: TaskSpecInput[] | unknown[]): Promise<string[]> {
    const reply = await this.request({
      type: 'submit',
      requestId: crypto.randomUUID(),
      tasks: specs,
      ...(this.submitter === undefined ? {} : { submitter: this.submitter }),
    })
    if (reply.type !== 'submitted') throw new Error(`unexpected reply ${reply.type}`)
    return reply.ids
  }

  /** One poll (or, with `wait`, a long poll) for a task's result. */
  async result(
    taskId: string,
    opts: { wait?: boolean; timeoutMs?: number } = {},
  ): Promise<ResultRecord | undefined> {
    const timeoutMs = opts.timeoutMs ?? CLIENT_TIMEOUT_MS
    const reply = await this.request(
      { type: 'result', requestId: crypto.randomUUID(), taskId, wait: opts.wait === true, timeoutMs },
      AbortSignal.timeout(timeoutMs + 5_000),
    )
    if (reply.type !== 'result') throw new Error(`unexpected reply ${reply.type}`)
    return reply.record === null ? undefined : openResultRecord(Buffer.from(reply.record, 'base64'))
  }

  /** Yields each task's result as it lands. */
  async *watch(taskIds: string[], signal?: AbortSignal): AsyncGenerator<ResultRecord> {
    const stream = await this.libp2p.dialProtocol(this.peer, SUBMIT_PROTOCOL, { signal })
    const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
    await lp.write(encodeMessage({ type: 'watch', requestId: crypto.randomUUID(), taskIds }), { signal })
    for (let i = 0; i < taskIds.length; i++) {
      const reply = decodeMessage(
        submitReplySchema,
        await lp.read({ signal }),
        MAX_FRAME_BYTES,
        'watch reply',
      )
      if (reply.type === 'error') throw new RemoteError(reply.code, reply.message)
      if (reply.type === 'result' && reply.record !== null) {
        yield await openResultRecord(Buffer.from(reply.record, 'base64'))
      }
    }
    await stream.close().catch(() => undefined)
  }

  /** The peer's status snapshot. */
  async status(): Promise<Record<string, unknown>> {
    const reply = await this.request({ type: 'status', requestId: crypto.randomUUID() })
    if (reply.type !== 'status') throw new Error(`unexpected reply ${reply.type}`)
    return reply.status
  }

  async close(): Promise<void> {
    await this.libp2p.stop()
  }

  private async request(
    frame: object,
    signal = AbortSignal.timeout(CLIENT_TIMEOUT_MS),
  ): Promise<SubmitFrameReply> {
    const stream = await this.libp2p.dialProtocol(this.peer, SUBMIT_PROTOCOL, { signal })
    const reply = await requestOnce<SubmitFrameReply>(stream, frame, submitReplySchema, {
      signal,
      maxBytes: MAX_FRAME_BYTES,
    })
    if (reply.type === 'error') throw new RemoteError(reply.code, reply.message)
    return reply
  }
}
