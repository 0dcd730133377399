import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { MAX_FRAME_BYTES, SUBMIT_PROTOCOL } from '../../protocol/constants.ts'
import type { SubmitFrameReply } from '../../protocol/messages/messages.ts'
import { MAX_STORY_EVENTS, submitFrameSchema } from '../../protocol/messages/messages.ts'
import { recordToBase64 } from '../../protocol/records/result-record.ts'
import { serveFrames } from '../../protocol/rpc/rpc.ts'
import { SubmitClient } from '../../protocol/rpc/submit-client.ts'
import { SubmitterNotAllowedError } from '../../task/errors.ts'
import { errorCode } from '../error-code.ts'
import type { FrontDoor } from '../front-door.ts'
import type { CancelResult, TaskState } from '../owner/cancellation.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'
import { abortReporter, type StreamLimits } from './stream-limits.ts'

/** Inbound submit-protocol streams at once (light clients). */
export const MAX_INBOUND_SUBMIT_STREAMS = 256
/** Longest a `result` request with `wait` may hold its stream. */
export const MAX_RESULT_WAIT_MS = 10 * 60_000
/** Deadline of a request this node makes of a peer (a record, a forwarded cancel or state), ms. */
export const PEER_REQUEST_MS = 5_000

const toBase64 = (v: Uint8Array | undefined) => (v === undefined ? null : recordToBase64(v))

/**
 * `/taskmesh/submit/1.0.0`: lets a process that is not a full node submit tasks to any peer,
 * read or watch results, and ask for status. One request per stream; `watch` streams one
 * reply per task as each result lands.
 */
export class SubmitService {
  private readonly allowSubmitters: ReadonlySet<string> | undefined

  /**
   * @param opts - the node's stream limits, and the peers allowed to `submit` and `cancel` (all
   *   when the list is absent; the peer is the connection's remote peer, authenticated by Noise —
   *   not the `submitter` a frame names: a cancel a listed node forwards is that node's).
   */
  constructor(
    private readonly libp2p: Pick<Libp2p, 'handle' | 'unhandle'>,
    private readonly door: FrontDoor,
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

  /**
   * With an allow-list, refuses `status`, `state` and `story` to a peer not on it: they tell who
   * submitted what, which peers run it and what the node holds — more than the records any member
   * reads. (`result` and `watch` answer what the DHT serves anyway.)
   * @throws SubmitterNotAllowedError
   */
  private mayRead(remote: PeerId): void {
    if (!this.allows(remote))
      throw new SubmitterNotAllowedError(remote.toString(), 'read the tasks and peers of')
  }

  /** True when `remote` may submit and cancel here: every peer without an allow-list, else the listed ones. */
  private allows(remote: PeerId): boolean {
    return this.allowSubmitters === undefined || this.allowSubmitters.has(remote.toString())
  }

  private async serve(stream: Stream, remote: PeerId): Promise<void> {
    await serveFrames(
      stream,
      submitFrameSchema,
      async (req, send: (reply: SubmitFrameReply) => Promise<void>) => {
        try {
          switch (req.type) {
            case 'submit': {
              if (!this.allows(remote)) throw new SubmitterNotAllowedError(remote.toString())
              const handles = await this.door.submitMany(req.tasks, {
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
              const value = await this.door.signedResult(req.taskId, { wait, signal }).catch(() => undefined)
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
                  const value = await this.door
                    .signedResult(taskId, { wait: true, signal })
                    .catch(() => undefined)
                  await send({ type: 'result', requestId: req.requestId, taskId, record: toBase64(value) })
                }),
              )
              return
            }
            case 'status':
              this.mayRead(remote)
              return await send({
                type: 'status',
                requestId: req.requestId,
                status: { ...this.door.status() },
              })
            case 'cancel': {
              if (!this.allows(remote))
                throw new SubmitterNotAllowedError(remote.toString(), 'cancel tasks on')
              const done = await this.door.cancel(req.taskId, { forwarded: req.forwarded })
              return await send({ type: 'cancelled', requestId: req.requestId, ...done })
            }
            case 'state': {
              this.mayRead(remote)
              const state = await this.door.taskState(req.taskId, { forwarded: req.forwarded })
              return await send({ type: 'state', requestId: req.requestId, taskId: req.taskId, ...state })
            }
            case 'story': {
              this.mayRead(remote)
              const events = this.door.story(req.taskId).slice(-MAX_STORY_EVENTS)
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
        onError: abortReporter(this.opts.limits, SUBMIT_PROTOCOL, remote.toString()),
      },
    )
  }
}

/** The submit-protocol client of `peer`, over this node's libp2p host. */
export function submitClientTo(libp2p: MeshLibp2p, peer: string): SubmitClient {
  return new SubmitClient(
    (signal) => libp2p.dialProtocol(peerIdFromString(peer), SUBMIT_PROTOCOL, { signal }),
    peer,
  )
}

/** Asks `peer` (usually the executor) for a task's signed record (one lookup there). */
export function requestResultFrom(
  libp2p: MeshLibp2p,
  peer: string,
  taskId: string,
  signal: AbortSignal = AbortSignal.timeout(PEER_REQUEST_MS),
): Promise<Uint8Array | undefined> {
  return submitClientTo(libp2p, peer).result(taskId, { signal })
}

/** Sends a cancel to the task's owner (marked forwarded: the owner does not forward it again). */
export function requestCancelFrom(
  libp2p: MeshLibp2p,
  owner: string,
  taskId: string,
  signal: AbortSignal = AbortSignal.timeout(PEER_REQUEST_MS),
): Promise<CancelResult> {
  return submitClientTo(libp2p, owner).cancel(taskId, { forwarded: true, signal })
}

/** Asks the task's owner how the task stands. */
export function requestStateFrom(
  libp2p: MeshLibp2p,
  owner: string,
  taskId: string,
  signal: AbortSignal = AbortSignal.timeout(PEER_REQUEST_MS),
): Promise<TaskState> {
  return submitClientTo(libp2p, owner).state(taskId, { forwarded: true, signal })
}
