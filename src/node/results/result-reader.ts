import type { ResultRecord } from '../../protocol/records/result-record.ts'
import { checkTaskId } from '../../task/task-id.ts'
import { checkSignal } from '../../util/abort-fanout.ts'
import { DEFAULT_RESULT_WAIT_MS } from '../options.ts'
import { stoppedBeforeResult, stoppedFor } from '../stopped-error.ts'
import type { RemoteWaits } from '../wire/gossip.ts'
import type { GetOptions } from './result-lookup.ts'
import type { ResultStore } from './result-store.ts'

/** What a {@link ResultReader} reads from. */
export interface ResultReaderParts {
  results: Pick<ResultStore, 'get' | 'wait' | 'poll' | 'cached' | 'cachedValue'>
  /** True when the task is in progress here (owned, held from a thief's steal, waiting for its dependencies, or its record being made). */
  isLocal(taskId: string): boolean
  /** Notices of every result are heard while a task of another owner is awaited. */
  remoteWaits: Pick<RemoteWaits, 'begin'>
  /** True once the node is stopping or stopped: it reads what it knows, and asks no peer. */
  stopped?(): boolean
}

/**
 * How a node's users read results: a wait that ends when the record lands (for a task of another
 * owner, hearing every result notice and polling the DHT meanwhile), the signed value, and the
 * results of many tasks in the order they land.
 */
export class ResultReader {
  constructor(private readonly parts: ResultReaderParts) {}

  /**
   * Resolves with the task's result as soon as it lands; rejects when `signal` aborts, or with a
   * `NodeStoppedError` when the node stops first (at once when it has stopped and knows no record).
   * @throws TypeError (as a rejection) for an id that is no task id or a signal that is no `AbortSignal`
   */
  async waitResult(id: string, signal?: AbortSignal): Promise<ResultRecord> {
    checkTaskId(id, 'waitResult')
    checkSignal(signal, 'waitResult')
    const { results, isLocal } = this.parts
    if (this.parts.stopped?.() === true && results.cached(id) === undefined) throw stoppedBeforeResult(id)
    // without a signal, give up after DEFAULT_RESULT_WAIT_MS (a sweep, not a timer per waiter)
    const waiting = results.wait(id, signal, signal === undefined ? DEFAULT_RESULT_WAIT_MS : undefined)
    const local = isLocal(id)
    if (!local && results.cached(id) === undefined) {
      // a task of another owner: hear every record's notice while waiting, and poll the DHT too
      const done = this.parts.remoteWaits.begin()
      waiting.then(done, done)
      void results.poll(id, signal ?? AbortSignal.timeout(DEFAULT_RESULT_WAIT_MS))
    }
    return waiting
  }

  /**
   * One poll (see `TaskmeshNode.getResult`). A task in progress here has no record anywhere yet:
   * none is looked for (on a node with no peers, the lookup waited out its deadline, 5 s a poll).
   * A stopping or stopped node answers from the records it holds in memory.
   * @throws NodeStoppedError (as a rejection) when the node has stopped and knows no record of the task
   */
  async getResult(id: string, opts: GetOptions = {}): Promise<ResultRecord | undefined> {
    checkTaskId(id, 'getResult')
    checkSignal(opts.signal, 'getResult')
    const fresh = opts.skipCache === true || opts.dhtOnly === true
    if (this.parts.stopped?.() === true) {
      const known = fresh ? undefined : this.parts.results.cached(id)
      if (known !== undefined) return known
      throw stoppedFor(`look up the result of task ${id}`, id)
    }
    if (this.inProgress(id) && !fresh) return undefined
    return this.parts.results.get(id, opts)
  }

  /** True when the task is in progress here and its record is not known here. */
  private inProgress(id: string): boolean {
    return this.parts.isLocal(id) && this.parts.results.cached(id) === undefined
  }

  /** The signed record value of a task (what the DHT stores), optionally waiting for it. */
  async signedResult(
    id: string,
    opts: { wait: boolean; signal?: AbortSignal },
  ): Promise<Uint8Array | undefined> {
    checkTaskId(id, 'signedResult')
    checkSignal(opts.signal, 'signedResult')
    if (opts.wait) await this.waitResult(id, opts.signal)
    else if ((await this.getResult(id, { signal: opts.signal })) === undefined) return undefined
    return this.parts.results.cachedValue(id)
  }

  /**
   * Yields the results of `ids` in the order they land; throws once a wait failed (`signal`
   * aborted) and every result landed before it was yielded. Each wait reports to one queue: a
   * `Promise.race` over the waits still pending, at each result, attached a handler to every one
   * of them (n² / 2 handlers, kept until each settled: 50 million for 10,000 ids).
   */
  async *results(ids: string[], signal?: AbortSignal): AsyncGenerator<ResultRecord> {
    if (!Array.isArray(ids))
      throw new TypeError(`results: ids must be an array of task ids, got ${typeof ids}`)
    for (const [i, id] of ids.entries()) checkTaskId(id, `results: ids[${i}]`)
    checkSignal(signal, 'results')
    const landed: ResultRecord[] = []
    /** The first failure, and how many results had landed before it. */
    let failed: { reason: unknown; after: number } | undefined
    let wake: (() => void) | undefined
    const tell = () => {
      const w = wake
      wake = undefined
      w?.()
    }
    for (const id of ids) {
      this.waitResult(id, signal).then(
        (r) => {
          landed.push(r)
          tell()
        },
        (reason: unknown) => {
          failed ??= { reason, after: landed.length }
          tell()
        },
      )
    }
    for (let next = 0; next < ids.length; next++) {
      for (;;) {
        if (failed !== undefined && next >= failed.after) throw failed.reason
        if (next < landed.length) break
        await new Promise<void>((resolve) => {
          wake = resolve
        })
      }
      yield landed[next]
    }
  }
}
