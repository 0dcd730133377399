import type { PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { MAX_FRAME_BYTES, SUBMIT_PROTOCOL } from '../../protocol/constants.ts'
import type { SubmitFrame, SubmitFrameReply } from '../../protocol/messages.ts'
import { MAX_STORY_EVENTS, submitFrameSchema, submitReplySchema } from '../../protocol/messages.ts'
import { requestOnce, serveFrames } from '../../protocol/rpc.ts'
import { SubmitterNotAllowedError } from '../../task/errors.ts'
import { errorCode } from '../error-code.ts'
import type { CancelResult, TaskState } from '../owner/cancellation.ts'
import type { StoryEvent } from '../story/story.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'
import type { StreamLimits } from './stream-limits.ts'

/** Inbound submit-protocol streams at once (light clients). */
export const MAX_INBOUND_SUBMIT_STREAMS = 256
/** Longest a `result` request with `wait` may hold its stream. */
export const MAX_RESULT_WAIT_MS = 10 * 60_000

/** What the submit protocol needs from a node. */
export interface SubmitTarget {
  submitMany(specs: unknown[], opts: { submitter: string }): Promise<Array<{ id: string }>>
  /** The signed record value for a task, waiting for it when `signal` is given. */
  signedResult(id: string, opts: { wait: boolean; signal?: AbortSignal }): Promise<Uint8Array | undefined>
  status(): object
  /** Cancels a task (forwarding to its owner unless `forwarded`). */
  cancel(id: string, opts: { forwarded?: boolean }): Promise<CancelResult>
  /** How a task stands (asking its owner unless `forwarded`). */
  taskState(id: string, opts: { forwarded?: boolean }): Promise<TaskState>
  /** The task's story at this node. */
  story(id: string): StoryEvent[]
}

const toBase64 = (v: Uint8Array | undefined) => (v === undefined ? null : Buffer.from(v).toString('base64'))

/**
 * `/taskmesh/submit/1.0.0`: lets a process that is not a full node submit tasks to any peer,
 * read or watch results, and ask for status. One request per stream; `watch` streams one
 * reply per task as each result lands.
 */
export class SubmitService {
  private readonly allowSubmitters: ReadonlySet<string> | undefined

  /**
   * @param opts - the node's stream limits, and the peers allowed to `submit` (all when the list
   *   is absent; the peer is the connection's remote peer, authenticated by Noise — not the
   *   `submitter` a frame names).
   */
  constructor(
    private readonly libp2p: MeshLibp2p,
    private readonly target: SubmitTarget,
    private readonly opts: { limits?: StreamLimits; allowSubmitters?: readonly string[] } = {},
  ) {
    this.allowSubmitters = opts.allowSubmitters === undefined ? undefined : new Set(opts.allowSubmitters)
  }

  async start(): Promise<void> {
    await this.libp2p.handle(
      SUBMIT_PROTOCOL,
      (stream, connection) => this.serve(stream, connection.remotePeer),
      {
        maxInboundStreams: MAX_INBOUND_SUBMIT_STREAMS,
      },
    )
  }

  async stop(): Promise<void> {
    await this.libp2p.unhandle(SUBMIT_PROTOCOL)
  }

  private async serve(stream: Stream, remote: PeerId): Promise<void> {
    await serveFrames(
      stream,
      submitFrameSchema,
      async (req, send: (reply: SubmitFrameReply) => Promise<void>) => {
        try {
          switch (req.type) {
            case 'submit': {
              if (this.allowSubmitters !== undefined && !this.allowSubmitters.has(remote.toString())) {
                throw new SubmitterNotAllowedError(remote.toString())
              }
              const handles = await this.target.submitMany(req.tasks, {
                submitter: req.submitter ?? remote.toString(),
              })
              return await send({
                type: 'submitted',
                requestId: req.requestId,
                ids: handles.map((h) => h.id),
              })
            }
            case 'result': {
              const wait = req.wait === true
              const signal = wait
                ? AbortSignal.timeout(Math.min(req.timeoutMs ?? MAX_RESULT_WAIT_MS, MAX_RESULT_WAIT_MS))
                : undefined
              const value = await this.target
                .signedResult(req.taskId, { wait, signal })
                .catch(() => undefined)
              return await send({
                type: 'result',
                requestId: req.requestId,
                taskId: req.taskId,
                record: toBase64(value),
              })
            }
            case 'watch': {
              const signal = AbortSignal.timeout(MAX_RESULT_WAIT_MS)
              await Promise.all(
                req.taskIds.map(async (taskId) => {
                  const value = await this.target
                    .signedResult(taskId, { wait: true, signal })
                    .catch(() => undefined)
                  await send({ type: 'result', requestId: req.requestId, taskId, record: toBase64(value) })
                }),
              )
              return
            }
            case 'status':
              return await send({
                type: 'status',
                requestId: req.requestId,
                status: { ...this.target.status() },
              })
            case 'cancel': {
              const done = await this.target.cancel(req.taskId, { forwarded: req.forwarded })
              return await send({ type: 'cancelled', requestId: req.requestId, ...done })
            }
            case 'state': {
              const state = await this.target.taskState(req.taskId, { forwarded: req.forwarded })
              return await send({ type: 'state', requestId: req.requestId, taskId: req.taskId, ...state })
            }
            case 'story': {
              const events = this.target.story(req.taskId).slice(-MAX_STORY_EVENTS)
              return await send({ type: 'story', requestId: req.requestId, taskId: req.taskId, events })
            }
          }
        } catch (err) {
          await send({
            type: 'error',
            requestId: req.requestId,
            code: errorCode(err),
            message: (err as Error).message,
          })
        }
      },
      {
        maxBytes: MAX_FRAME_BYTES,
        what: 'submit frame',
        readTimeoutMs: this.opts.limits?.requestTimeoutMs,
        budget: this.opts.limits?.budget,
      },
    )
  }
}

/** Asks `peer` (usually the executor) for a task's signed record over the submit protocol. */
export async function requestResultFrom(
  libp2p: MeshLibp2p,
  peer: string,
  taskId: string,
  signal: AbortSignal = AbortSignal.timeout(5_000),
): Promise<Uint8Array | undefined> {
  const stream = await libp2p.dialProtocol(peerIdFromString(peer), SUBMIT_PROTOCOL, { signal })
  const reply = await requestOnce<SubmitFrameReply>(
    stream,
    { type: 'result', requestId: crypto.randomUUID(), taskId },
    submitReplySchema,
    { signal, maxBytes: MAX_FRAME_BYTES },
  )
  if (reply.type !== 'result' || reply.record === null) return undefined
  return Buffer.from(reply.record, 'base64')
}

/** One request to `peer` over the submit protocol; an error reply rejects with its code. */
async function askPeer(
  libp2p: MeshLibp2p,
  peer: string,
  frame: SubmitFrame,
  signal: AbortSignal,
): Promise<SubmitFrameReply> {
  const stream = await libp2p.dialProtocol(peerIdFromString(peer), SUBMIT_PROTOCOL, { signal })
  const reply = await requestOnce<SubmitFrameReply>(stream, frame, submitReplySchema, {
    signal,
    maxBytes: MAX_FRAME_BYTES,
  })
  if (reply.type === 'error') throw Object.assign(new Error(reply.message), { code: reply.code })
  return reply
}

/** Sends a cancel to the task's owner (marked forwarded: the owner does not forward it again). */
export async function requestCancelFrom(
  libp2p: MeshLibp2p,
  owner: string,
  taskId: string,
  signal: AbortSignal = AbortSignal.timeout(5_000),
): Promise<CancelResult> {
  const frame = { type: 'cancel' as const, requestId: crypto.randomUUID(), taskId, forwarded: true }
  const reply = await askPeer(libp2p, owner, frame, signal)
  if (reply.type !== 'cancelled') throw new Error(`${owner} answered cancel with "${reply.type}"`)
  return { taskId: reply.taskId, outcome: reply.outcome, owner: reply.owner }
}

/** Asks the task's owner how the task stands. */
export async function requestStateFrom(
  libp2p: MeshLibp2p,
  owner: string,
  taskId: string,
  signal: AbortSignal = AbortSignal.timeout(5_000),
): Promise<TaskState> {
  const frame = { type: 'state' as const, requestId: crypto.randomUUID(), taskId, forwarded: true }
  const reply = await askPeer(libp2p, owner, frame, signal)
  if (reply.type !== 'state') throw new Error(`${owner} answered state with "${reply.type}"`)
  return reply.reason === undefined ? { state: reply.state } : { state: reply.state, reason: reply.reason }
}
