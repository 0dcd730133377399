import type { Stream } from '@libp2p/interface'
import { monotonicNow } from '../../util/clock.ts'
import { MAX_FRAME_BYTES, MAX_WATCH_TASKS, SUBMIT_PROTOCOL } from '../constants.ts'
import { RemoteError } from '../errors.ts'
import {
  type CancelReply,
  type StateReply,
  type StoryReply,
  type SubmitFrame,
  type SubmitFrameReply,
  submitReplySchema,
} from '../messages/submit-messages.ts'
import { recordFromBase64 } from '../records/result-record-schema.ts'
import { requestMany, requestOnce } from './rpc.ts'
import { withDeadline } from './signals.ts'

/** Default deadline of one submit-protocol request, ms. */
export const SUBMIT_REQUEST_TIMEOUT_MS = 30_000
/**
 * Longest single long poll {@link SubmitClient.result} asks a node for; a longer wait is several
 * polls (a node caps one wait, at 10 minutes by default).
 */
export const MAX_POLL_MS = 5 * 60_000
/** Extra time a long poll is given over the wait it asks for, for the reply to travel back, ms. */
const REPLY_GRACE_MS = 5_000

/** Opens a fresh stream of `/taskmesh/submit/1.0.0` to the node (one request per stream). */
export type SubmitDialer = (signal: AbortSignal) => Promise<Stream>

/** What a cancel did (the `cancelled` reply without its envelope). */
export type CancelOutcome = Omit<CancelReply, 'type' | 'requestId'>
/** How a task stands (the `state` reply without its envelope and task id). */
export type TaskStateReply = Pick<StateReply, 'state' | 'reason' | 'owner'>
/** The decisions a node took about a task, oldest first. */
export type StoryEvents = StoryReply['events']

/**
 * The one client of the submit protocol (section 8 of PROTOCOL.md), over whatever opens its
 * streams: a light client's own host, or a node asking a peer (an executor for a record, an owner
 * to cancel). Each request opens a stream, sends one frame, half-closes and reads the reply; an
 * `error` reply rejects with a {@link RemoteError} carrying the node's code, and a reply of the
 * wrong type or for another task rejects too. Records come back as the signed values the node
 * relayed: verify them (`openResultRecord`) before trusting them.
 */
export class SubmitClient {
  /**
   * @param dial - opens a submit-protocol stream to the node.
   * @param peer - the node's name in error messages (its address or peer id).
   */
  constructor(
    private readonly dial: SubmitDialer,
    private readonly peer: string,
  ) {}

  /** Submits items; resolves with one id per item, in order. */
  async submit(tasks: unknown[], submitter?: string, signal?: AbortSignal): Promise<string[]> {
    const frame: SubmitFrame = {
      type: 'submit',
      requestId: crypto.randomUUID(),
      tasks,
      ...(submitter === undefined ? {} : { submitter }),
    }
    const reply = await this.expect(frame, 'submitted', signal)
    if (reply.ids.length !== tasks.length) {
      throw new Error(`submit: ${this.peer} returned ${reply.ids.length} ids for ${tasks.length} tasks`)
    }
    return reply.ids
  }

  /**
   * A task's signed record value, or `undefined` when there is none (yet). Without `waitMs`: one
   * lookup at the node (its cache, then the DHT), bounded by `signal`. With `waitMs`: long polls of
   * at most {@link MAX_POLL_MS} each until the record lands or `waitMs` passed.
   */
  async result(
    taskId: string,
    opts: { waitMs?: number; signal?: AbortSignal } = {},
  ): Promise<Uint8Array | undefined> {
    const waitMs = opts.waitMs ?? 0
    if (waitMs <= 0) return this.poll(taskId, false, 0, opts.signal ?? this.timeout())
    const deadline = monotonicNow() + waitMs
    for (;;) {
      const ms = Math.max(0, Math.min(deadline - monotonicNow(), MAX_POLL_MS))
      const value = await withDeadline(ms + REPLY_GRACE_MS, [opts.signal], (signal) =>
        this.poll(taskId, true, ms, signal),
      )
      if (value !== undefined || monotonicNow() >= deadline) return value
    }
  }

  /**
   * Yields `{ taskId, value }` for each task as its record lands at the node (`value` undefined
   * for a task the node gave up on), over one stream, until the node closes it; `signal` ends it.
   */
  async *watch(
    taskIds: string[],
    signal?: AbortSignal,
  ): AsyncGenerator<{ taskId: string; value: Uint8Array | undefined }, void, undefined> {
    if (taskIds.length === 0) return
    if (taskIds.length > MAX_WATCH_TASKS) {
      throw new RangeError(
        `watch: ${taskIds.length} task ids, over the limit of ${MAX_WATCH_TASKS} per watch`,
      )
    }
    const stream = await this.open(signal)
    const frame: SubmitFrame = { type: 'watch', requestId: crypto.randomUUID(), taskIds }
    const replies = requestMany<SubmitFrameReply>(stream, frame, submitReplySchema, {
      signal,
      maxBytes: MAX_FRAME_BYTES,
      what: `watch reply from ${this.peer}`,
    })
    for await (const reply of replies) {
      const result = this.check(reply, 'result', 'watch')
      yield {
        taskId: result.taskId,
        value: result.record === null ? undefined : recordFromBase64(result.record),
      }
    }
  }

  /** The node's status snapshot (a JSON object whose shape the node defines). */
  async status(signal?: AbortSignal): Promise<Record<string, unknown>> {
    const reply = await this.expect({ type: 'status', requestId: crypto.randomUUID() }, 'status', signal)
    return reply.status
  }

  /**
   * Cancels a task (the node forwards to its owner unless `forwarded`). Rejects with
   * `ERR_UNKNOWN_TASK` when no node in reach knows it, `ERR_OWNER_DOWN` when its owner cannot be
   * reached and no node has taken it over yet.
   */
  async cancel(taskId: string, opts: ForwardOptions = {}): Promise<CancelOutcome> {
    const reply = await this.about(taskId, { type: 'cancel', ...forwarded(opts) }, 'cancelled', opts.signal)
    return { taskId: reply.taskId, outcome: reply.outcome, owner: reply.owner }
  }

  /** How a task stands at the node (which asks the task's owner unless `forwarded`). */
  async state(taskId: string, opts: ForwardOptions = {}): Promise<TaskStateReply> {
    const { state, reason, owner } = await this.about(
      taskId,
      { type: 'state', ...forwarded(opts) },
      'state',
      opts.signal,
    )
    return { state, ...(reason === undefined ? {} : { reason }), ...(owner === undefined ? {} : { owner }) }
  }

  /** The decisions the node took about a task, oldest first. */
  async story(taskId: string, signal?: AbortSignal): Promise<StoryEvents> {
    return (await this.about(taskId, { type: 'story' }, 'story', signal)).events
  }

  private async poll(
    taskId: string,
    wait: boolean,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<Uint8Array | undefined> {
    const ask = { type: 'result' as const, wait, ...(wait ? { timeoutMs: waitMs } : {}) }
    const reply = await this.about(taskId, ask, 'result', signal)
    return reply.record === null ? undefined : recordFromBase64(reply.record)
  }

  private timeout(): AbortSignal {
    return AbortSignal.timeout(SUBMIT_REQUEST_TIMEOUT_MS)
  }

  private async open(signal: AbortSignal | undefined): Promise<Stream> {
    try {
      return await this.dial(signal ?? this.timeout())
    } catch (err) {
      throw new Error(`cannot open ${SUBMIT_PROTOCOL} to ${this.peer}: ${(err as Error).message}`, {
        cause: err,
      })
    }
  }

  /** One request; its reply must be of type `type` (an `error` reply rejects with its code). */
  private async expect<T extends SubmitFrameReply['type']>(
    frame: SubmitFrame,
    type: T,
    signal = this.timeout(),
  ): Promise<Extract<SubmitFrameReply, { type: T }>> {
    const stream = await this.open(signal)
    const reply = await requestOnce<SubmitFrameReply>(stream, frame, submitReplySchema, {
      signal,
      maxBytes: MAX_FRAME_BYTES,
      what: `${frame.type} reply from ${this.peer}`,
    })
    return this.check(reply, type, frame.type)
  }

  private check<T extends SubmitFrameReply['type']>(
    reply: SubmitFrameReply,
    type: T,
    request: string,
  ): Extract<SubmitFrameReply, { type: T }> {
    if (reply.type === 'error') throw new RemoteError(reply.code, reply.message)
    if (reply.type !== type) throw new Error(`${request}: ${this.peer} answered "${reply.type}"`)
    return reply as Extract<SubmitFrameReply, { type: T }>
  }

  /** A request about one task; the reply must be of type `type`, for that task. */
  private async about<T extends 'result' | 'cancelled' | 'state' | 'story'>(
    taskId: string,
    request: TaskRequest,
    type: T,
    signal?: AbortSignal,
  ): Promise<Extract<SubmitFrameReply, { type: T }>> {
    const frame = { ...request, requestId: crypto.randomUUID(), taskId } as SubmitFrame
    const reply = await this.expect(frame, type, signal)
    const answered = (reply as { taskId: string }).taskId // every reply `type` names a task
    if (answered !== taskId) throw new Error(`${this.peer} answered for task ${answered}, not ${taskId}`)
    return reply
  }
}

/** A request about one task, without its envelope. */
type TaskRequest = DistributiveOmit<Extract<SubmitFrame, { taskId: string }>, 'requestId' | 'taskId'>
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** Options of a request a node may forward to the task's owner. */
export interface ForwardOptions {
  /** Sent by a node on behalf of another: the receiver does not forward it again. */
  forwarded?: boolean
  /** Ends the request. @defaultValue a 30 s deadline */
  signal?: AbortSignal
}

const forwarded = (opts: ForwardOptions) => (opts.forwarded === true ? { forwarded: true } : {})
