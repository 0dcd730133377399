import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import type { Libp2p, PrivateKey, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { errorCode } from '../node/error-code.ts'
import { chunkedPreSharedKey } from '../node/wire/pnet-chunks.ts'
import {
  MAX_FRAME_BYTES,
  MAX_PEER_ID_CHARS,
  MAX_WATCH_TASKS,
  SUBMIT_PROTOCOL,
} from '../protocol/constants.ts'
import {
  type StoryReply,
  type SubmitFrame,
  type SubmitFrameReply,
  submitReplySchema,
} from '../protocol/messages.ts'
import { openResultRecord, type ResultRecord, resultKey } from '../protocol/result-record.ts'
import { requestMany, requestOnce } from '../protocol/rpc.ts'
import { InvalidTaskError } from '../task/errors.ts'
import { MAX_TASKS_PER_SUBMISSION } from '../task/limits.ts'
import type { TaskSpecInput } from '../task/spec.ts'
import { isTaskId } from '../task/task-id.ts'
import { RemoteError } from './remote-error.ts'

/** Default deadline of one light-client request (and of `connect`'s first dial). */
export const CLIENT_TIMEOUT_MS = 30_000
/**
 * Longest single long poll a `result(id, { wait: true })` asks the peer for; longer waits are
 * made of several polls (peers cap one wait, at 10 minutes by default).
 */
export const MAX_POLL_MS = 5 * 60_000
/** Deadline of a `result()` poll without `wait`: a DHT lookup that takes longer finds nothing. */
export const DEFAULT_POLL_MS = 5_000
/** Extra time a long poll is given over the wait it asks for, for the reply to travel back. */
const REPLY_GRACE_MS = 5_000

/** Options of {@link TaskmeshClient.connect}. */
export interface TaskmeshClientOptions {
  /** Name recorded as the submitter. @defaultValue the client's own peer id */
  submitter?: string
  /** libp2p pnet pre-shared key (swarm.key file contents) when the mesh is private. */
  swarmKey?: Uint8Array
  /**
   * The client's key, hence its peer id (what a node's submitter allow-list names).
   * @defaultValue a fresh key per connection
   */
  privateKey?: PrivateKey
  /** Ends `connect`'s first dial. @defaultValue `AbortSignal.timeout(CLIENT_TIMEOUT_MS)` */
  signal?: AbortSignal
}

/** Options of {@link TaskmeshClient.result}. */
export interface ResultOptions {
  /** Wait until the result exists (or `timeoutMs` passes) instead of polling once. @defaultValue false */
  wait?: boolean
  /**
   * With `wait`: how long to wait for the result (default `CLIENT_TIMEOUT_MS`). Without: the
   * deadline of the one poll (default `DEFAULT_POLL_MS`).
   */
  timeoutMs?: number
}

function checkTaskId(id: unknown, where: string): string {
  if (typeof id !== 'string' || !isTaskId(id)) {
    throw new TypeError(
      `${where}: ${JSON.stringify(id)} is not a task id (a CIDv1 such as "bafkrei…", as returned by submit)`,
    )
  }
  return id
}

function parsePeerAddress(peerAddr: string): Multiaddr {
  let addr: Multiaddr
  try {
    addr = multiaddr(peerAddr)
  } catch (err) {
    throw new TypeError(`peer address "${peerAddr}" is not a multiaddr: ${(err as Error).message}`)
  }
  if (addr.getComponents().find((c) => c.name === 'p2p') === undefined) {
    throw new TypeError(
      `peer address "${peerAddr}" has no /p2p/<peer id> part (use an address a daemon prints on its "listening" line)`,
    )
  }
  return addr
}

/**
 * A light client: not a mesh node (no DHT, no gossip, no slots). It dials any one peer over
 * `/taskmesh/submit/1.0.0` to submit tasks, poll or watch results, and read status. Every
 * refusal by the peer rejects with a {@link RemoteError} carrying the peer's error code.
 */
export class TaskmeshClient {
  private closed = false

  private constructor(
    private readonly libp2p: Libp2p,
    private readonly peer: Multiaddr,
    private readonly submitter: string | undefined,
  ) {}

  /**
   * Starts a minimal libp2p host (TCP, Noise, Yamux) and dials the peer, a multiaddr with
   * `/p2p/<id>`. Rejects when the address is malformed or the peer cannot be reached.
   */
  static async connect(peerAddr: string, opts: TaskmeshClientOptions = {}): Promise<TaskmeshClient> {
    const addr = parsePeerAddress(peerAddr)
    if (
      opts.submitter !== undefined &&
      (opts.submitter.length < 1 || opts.submitter.length > MAX_PEER_ID_CHARS)
    ) {
      throw new TypeError(`submitter must be 1 to ${MAX_PEER_ID_CHARS} characters`)
    }
    const libp2p = await createLibp2p({
      privateKey: opts.privateKey,
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionProtector: opts.swarmKey === undefined ? undefined : chunkedPreSharedKey(opts.swarmKey),
    })
    try {
      await libp2p.dial(addr, { signal: opts.signal ?? AbortSignal.timeout(CLIENT_TIMEOUT_MS) })
    } catch (err) {
      await Promise.resolve(libp2p.stop()).catch(() => undefined)
      throw new Error(`cannot reach peer ${peerAddr}: ${(err as Error).message}`, { cause: err })
    }
    return new TaskmeshClient(libp2p, addr, opts.submitter)
  }

  /**
   * Submits tasks; resolves with their ids in order, or rejects with the node's refusal
   * (`RemoteError` with `ERR_INVALID_TASK`, `ERR_UNKNOWN_HANDLER`, `ERR_QUEUE_FULL`) — then
   * nothing was queued.
   */
  async submit(specs: TaskSpecInput[] | unknown[]): Promise<string[]> {
    if (!Array.isArray(specs) || specs.length === 0) throw new InvalidTaskError('no tasks given', 'tasks')
    if (specs.length > MAX_TASKS_PER_SUBMISSION) {
      throw new InvalidTaskError(
        `${specs.length} tasks, over the limit of ${MAX_TASKS_PER_SUBMISSION} per submission`,
        'tasks',
      )
    }
    const reply = await this.request({
      type: 'submit',
      requestId: crypto.randomUUID(),
      tasks: specs,
      ...(this.submitter === undefined ? {} : { submitter: this.submitter }),
    })
    if (reply.type !== 'submitted') throw new Error(`submit: the peer answered "${reply.type}"`)
    if (reply.ids.length !== specs.length) {
      throw new Error(`submit: the peer returned ${reply.ids.length} ids for ${specs.length} tasks`)
    }
    return reply.ids
  }

  /**
   * A task's verified result record, or `undefined` when there is none (yet). Without `wait`: one
   * poll — the peer looks in what it knows and in the DHT; a lookup that takes over `timeoutMs`
   * (default {@link DEFAULT_POLL_MS}) counts as not found. With `wait`: waits up to `timeoutMs`
   * (default {@link CLIENT_TIMEOUT_MS}) for the result to land.
   */
  async result(taskId: string, opts: ResultOptions = {}): Promise<ResultRecord | undefined> {
    checkTaskId(taskId, 'result')
    const wait = opts.wait === true
    const timeoutMs = opts.timeoutMs ?? (wait ? CLIENT_TIMEOUT_MS : DEFAULT_POLL_MS)
    if (!(timeoutMs >= 0))
      throw new RangeError(`result: timeoutMs must be a number of ms >= 0, got ${timeoutMs}`)
    if (!wait) {
      try {
        return await this.poll(taskId, false, 0, AbortSignal.timeout(timeoutMs))
      } catch (err) {
        if (errorCode(err) === 'ERR_RPC_TIMEOUT') return undefined
        throw err
      }
    }
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const waitMs = Math.max(0, Math.min(deadline - Date.now(), MAX_POLL_MS))
      const record = await this.poll(taskId, true, waitMs, AbortSignal.timeout(waitMs + REPLY_GRACE_MS))
      if (record !== undefined || Date.now() >= deadline) return record
    }
  }

  /**
   * Yields each task's result once, as it lands, over one stream. Ends when every task has a
   * result, or when the peer gives up waiting (a task without a result by then is not yielded);
   * `signal` stops it early.
   */
  async *watch(taskIds: string[], signal?: AbortSignal): AsyncGenerator<ResultRecord, void, undefined> {
    const ids = [...new Set(taskIds.map((id, i) => checkTaskId(id, `watch: taskIds[${i}]`)))]
    if (ids.length === 0) return
    if (ids.length > MAX_WATCH_TASKS) {
      throw new RangeError(`watch: ${ids.length} task ids, over the limit of ${MAX_WATCH_TASKS} per watch`)
    }
    const pending = new Set(ids)
    const stream = await this.open(signal)
    const replies = requestMany<SubmitFrameReply>(
      stream,
      { type: 'watch', requestId: crypto.randomUUID(), taskIds: ids },
      submitReplySchema,
      { signal, maxBytes: MAX_FRAME_BYTES, what: `watch reply from ${this.peer}` },
    )
    for await (const reply of replies) {
      if (reply.type === 'error') throw new RemoteError(reply.code, reply.message)
      if (reply.type !== 'result') throw new Error(`watch: the peer answered "${reply.type}"`)
      if (!pending.delete(reply.taskId) || reply.record === null) continue
      yield await this.openRecord(reply.taskId, reply.record)
    }
  }

  /** The peer's status snapshot (peers, slots, queues, counters). */
  async status(): Promise<Record<string, unknown>> {
    const reply = await this.request({ type: 'status', requestId: crypto.randomUUID() })
    if (reply.type !== 'status') throw new Error(`status: the peer answered "${reply.type}"`)
    return reply.status
  }

  /**
   * Cancels a task (the peer forwards to the task's owner): `cancelled`, or `finished` when it had
   * a result already. Rejects with `ERR_UNKNOWN_TASK` when no node in reach knows it.
   */
  async cancel(
    taskId: string,
  ): Promise<{ taskId: string; outcome: 'cancelled' | 'finished'; owner: string }> {
    const reply = await this.request({
      type: 'cancel',
      requestId: crypto.randomUUID(),
      taskId: checkTaskId(taskId, 'cancel'),
    })
    if (reply.type !== 'cancelled') throw new Error(`cancel: the peer answered "${reply.type}"`)
    return { taskId: reply.taskId, outcome: reply.outcome, owner: reply.owner }
  }

  /** How a task stands (`waiting`, `queued`, `leased`, `running`, `unschedulable`, `done`, `unknown`). */
  async state(taskId: string): Promise<{ state: string; reason?: string }> {
    const reply = await this.request({
      type: 'state',
      requestId: crypto.randomUUID(),
      taskId: checkTaskId(taskId, 'state'),
    })
    if (reply.type !== 'state') throw new Error(`state: the peer answered "${reply.type}"`)
    return reply.reason === undefined ? { state: reply.state } : { state: reply.state, reason: reply.reason }
  }

  /** The decisions the peer took about a task, oldest first. */
  async story(taskId: string): Promise<StoryReply['events']> {
    const reply = await this.request({
      type: 'story',
      requestId: crypto.randomUUID(),
      taskId: checkTaskId(taskId, 'story'),
    })
    if (reply.type !== 'story') throw new Error(`story: the peer answered "${reply.type}"`)
    return reply.events
  }

  /** Stops the client's libp2p host. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.libp2p.stop()
  }

  private async poll(
    taskId: string,
    wait: boolean,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<ResultRecord | undefined> {
    const reply = await this.request(
      {
        type: 'result',
        requestId: crypto.randomUUID(),
        taskId,
        wait,
        ...(wait ? { timeoutMs: waitMs } : {}),
      },
      signal,
    )
    if (reply.type !== 'result') throw new Error(`result: the peer answered "${reply.type}"`)
    if (reply.taskId !== taskId) throw new Error(`result: the peer answered for task ${reply.taskId}`)
    return reply.record === null ? undefined : this.openRecord(taskId, reply.record)
  }

  /** Verifies the executor's signature and that the record belongs to `taskId`. */
  private openRecord(taskId: string, base64: string): Promise<ResultRecord> {
    return openResultRecord(Buffer.from(base64, 'base64'), resultKey(taskId))
  }

  private async open(signal: AbortSignal | undefined): Promise<Stream> {
    if (this.closed) throw new Error('the client is closed')
    try {
      return await this.libp2p.dialProtocol(this.peer, SUBMIT_PROTOCOL, { signal })
    } catch (err) {
      throw new Error(`cannot open ${SUBMIT_PROTOCOL} to ${this.peer}: ${(err as Error).message}`, {
        cause: err,
      })
    }
  }

  private async request(
    frame: SubmitFrame,
    signal = AbortSignal.timeout(CLIENT_TIMEOUT_MS),
  ): Promise<SubmitFrameReply> {
    const stream = await this.open(signal)
    const reply = await requestOnce<SubmitFrameReply>(stream, frame, submitReplySchema, {
      signal,
      maxBytes: MAX_FRAME_BYTES,
      what: `${frame.type} reply from ${this.peer}`,
    })
    if (reply.type === 'error') throw new RemoteError(reply.code, reply.message)
    return reply
  }
}
