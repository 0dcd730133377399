import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { connectionStack } from '../node/wire/connection-stack.ts'
import { failedInHandshake } from '../node/wire/dial-failure.ts'
import { MAX_PEER_ID_CHARS, SUBMIT_PROTOCOL } from '../protocol/constants.ts'
import { RpcTimeoutError } from '../protocol/errors.ts'
import { openResultRecord, type ResultRecord, resultKey } from '../protocol/records/result-record.ts'
import { withDeadline } from '../protocol/rpc/signals.ts'
import {
  type CancelOutcome,
  type StoryEvents,
  SubmitClient,
  type TaskStateReply,
} from '../protocol/rpc/submit-client.ts'
import { InvalidTaskError } from '../task/errors.ts'
import { MAX_TASKS_PER_SUBMISSION } from '../task/limits.ts'
import type { TaskSpecInput } from '../task/spec.ts'
import { checkTaskId } from '../task/task-id.ts'
import type { MeshClient, ResultOptions } from './mesh-client.ts'

export type { ResultOptions } from './mesh-client.ts'

/** Default deadline of one light-client request (and of `connect`'s first dial). */
export const CLIENT_TIMEOUT_MS = 30_000
/** Deadline of a `result()` poll without `wait`: a DHT lookup that takes longer finds nothing. */
export const DEFAULT_POLL_MS = 5_000

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
 * `/taskmesh/submit/1.0.0` (through {@link SubmitClient}) to submit tasks, poll or watch results,
 * and read status; every record it returns is verified. Every refusal by the peer rejects with a
 * `RemoteError` carrying the peer's error code.
 */
export class TaskmeshClient implements MeshClient {
  private closed = false
  private readonly api: SubmitClient

  private constructor(
    private readonly libp2p: Libp2p,
    peer: Multiaddr,
    private readonly submitter: string | undefined,
  ) {
    this.api = new SubmitClient((signal) => {
      if (this.closed) throw new Error('the client is closed')
      return this.libp2p.dialProtocol(peer, SUBMIT_PROTOCOL, { signal })
    }, peer.toString())
  }

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
      ...connectionStack(opts.swarmKey), // the nodes' own
    })
    try {
      await libp2p.dial(addr, { signal: opts.signal ?? AbortSignal.timeout(CLIENT_TIMEOUT_MS) })
    } catch (err) {
      await Promise.resolve(libp2p.stop()).catch(() => undefined)
      const said = (err as Error).message
      throw new Error(`cannot reach peer ${peerAddr}: ${said}${keyHint(said, opts.swarmKey !== undefined)}`, {
        cause: err,
      })
    }
    return new TaskmeshClient(libp2p, addr, opts.submitter)
  }

  /**
   * Submits tasks; resolves with their ids in order, or rejects with the node's refusal
   * (`RemoteError` with `ERR_INVALID_TASK`, `ERR_UNKNOWN_HANDLER`, `ERR_QUEUE_FULL`,
   * `ERR_NOT_ALLOWED`) — then nothing was queued.
   */
  async submit(specs: TaskSpecInput[] | unknown[]): Promise<string[]> {
    if (!Array.isArray(specs) || specs.length === 0) throw new InvalidTaskError('no tasks given', 'tasks')
    if (specs.length > MAX_TASKS_PER_SUBMISSION) {
      throw new InvalidTaskError(
        `${specs.length} tasks, over the limit of ${MAX_TASKS_PER_SUBMISSION} per submission`,
        'tasks',
      )
    }
    return this.api.submit(specs, this.submitter)
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
    let value: Uint8Array | undefined
    try {
      value = wait
        ? await this.api.result(taskId, { waitMs: timeoutMs, signal: opts.signal })
        : await withDeadline(timeoutMs, [opts.signal], (signal) => this.api.result(taskId, { signal }))
    } catch (err) {
      if (err instanceof RpcTimeoutError || opts.signal?.aborted === true) return undefined
      throw err
    }
    return value === undefined ? undefined : this.openRecord(taskId, value)
  }

  /**
   * Yields each task's result once, as it lands, over one stream. Ends when every task has a
   * result, or when the peer gives up waiting (a task without a result by then is not yielded);
   * `signal` stops it early.
   */
  async *watch(taskIds: string[], signal?: AbortSignal): AsyncGenerator<ResultRecord, void, undefined> {
    const ids = [...new Set(taskIds.map((id, i) => checkTaskId(id, `watch: taskIds[${i}]`)))]
    const pending = new Set(ids)
    for await (const { taskId, value } of this.api.watch(ids, signal)) {
      if (!pending.delete(taskId) || value === undefined) continue
      yield await this.openRecord(taskId, value)
    }
  }

  /** The peer's status snapshot (peers, slots, queues, counters). */
  async status(): Promise<Record<string, unknown>> {
    return this.api.status()
  }

  /**
   * Cancels a task (the peer forwards to the task's owner): `cancelled`, or `finished` when it had
   * a result already. Rejects with `ERR_UNKNOWN_TASK` when no node in reach knows it, and with
   * `ERR_OWNER_DOWN` when its owner cannot be reached and no node has taken it over yet (try again).
   */
  async cancel(taskId: string): Promise<CancelOutcome> {
    return this.api.cancel(checkTaskId(taskId, 'cancel'))
  }

  /** How a task stands (`waiting`, `queued`, `leased`, `running`, `unschedulable`, `done`, `unknown`). */
  async state(taskId: string): Promise<TaskStateReply> {
    return this.api.state(checkTaskId(taskId, 'state'))
  }

  /** The decisions the peer took about a task, oldest first. */
  async story(taskId: string): Promise<StoryEvents> {
    return this.api.story(checkTaskId(taskId, 'story'))
  }

  /** Stops the client's libp2p host. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.libp2p.stop()
  }

  /** Verifies the executor's signature and that the record belongs to `taskId`. */
  private openRecord(taskId: string, value: Uint8Array): Promise<ResultRecord> {
    return openResultRecord(value, resultKey(taskId))
  }
}

/**
 * What a failed dial adds when it looks like a swarm key mismatch: anything but a connection that
 * could not be made (refused, no route, no such host) — a key mismatch garbles the handshake, which
 * then fails in many ways (cut, a length or newline that makes no sense, no answer in time).
 */
function keyHint(error: string, keyed: boolean): string {
  if (!failedInHandshake(error)) return ''
  return keyed
    ? ' (is it a mesh with another swarm key? the node and the client must use the same key)'
    : ' (is it a private mesh? pass its swarm key: --swarm-key <file>, the `swarmKey` option)'
}
