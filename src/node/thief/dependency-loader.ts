import { cancellationOf } from '../../executor/cancellation.ts'
import type { Executor, RunOutcome, RunRequest } from '../../executor/executor.ts'
import { describeError } from '../../executor/handler.ts'
import { failed } from '../../executor/outcome.ts'
import { type ResultRecord, resultKey } from '../../protocol/records/result-record.ts'
import type { Json } from '../../task/spec.ts'
import { dependencyFailure } from '../owner/failure-chain.ts'
import type { ResultStore } from '../results/result-store.ts'
import type { AttemptExecutor, RunEntry } from '../run/task-runner.ts'

/** Deadline of fetching one dependency's record, ms. */
export const DEPENDENCY_FETCH_MS = 10_000

/** Options of {@link DependencyLoader}. */
export interface DependencyLoaderOptions {
  /** Runs the attempt once the outputs are in. */
  executor: Pick<Executor, 'run'>
  /** Records known here, the DHT, and where fetched records are kept. */
  results: Pick<ResultStore, 'cached' | 'get' | 'accept' | 'open'>
  /** Reads a task's signed record from a peer (the task's owner; `RecordFetch.valueAt`). */
  fetchFrom(peer: string, taskId: string, signal: AbortSignal): Promise<Uint8Array | undefined>
  /** This node's peer id. */
  self: string
}

/** A dependency that ended failed: running the task can never succeed. */
class FailedDependencyError extends Error {}

/**
 * Gives a task its dependencies' outputs before its handler runs, where the entry lacks them —
 * a task stolen from its owner (a grant carries the task, not the outputs), or one an owner took
 * back after a restart. Each missing output is read from this node's records, else asked of the
 * owner (which waited for every one of them, so it holds them), else looked up in the DHT; every
 * record is signature-checked. The fetch is part of the attempt: it holds the task's slot, a
 * fetch that fails fails the attempt (retried with backoff), and cancellation aborts it.
 */
export class DependencyLoader implements AttemptExecutor {
  constructor(private readonly opts: DependencyLoaderOptions) {}

  async run(req: RunRequest, entry: RunEntry): Promise<RunOutcome> {
    const missing = entry.task.spec.dependsOn.filter((d) => !Object.hasOwn(entry.dependencies, d))
    if (missing.length === 0) return this.opts.executor.run(req)
    const startedAt = Date.now()
    const cancellation = cancellationOf(req)
    try {
      for (const dep of missing) {
        const signal = AbortSignal.any([
          ...(cancellation === undefined ? [] : [cancellation.signal]),
          AbortSignal.timeout(DEPENDENCY_FETCH_MS),
        ])
        entry.dependencies[dep] = await this.output(dep, entry.task.owner, signal)
      }
    } catch (err) {
      if (cancellation?.fired === true) return failed('cancelled', startedAt, false, false, true)
      if (err instanceof FailedDependencyError) return failed(err.message, startedAt, true)
      return failed(`cannot read the outputs of its dependencies: ${describeError(err)}`, startedAt)
    }
    return this.opts.executor.run({ ...req, dependencies: entry.dependencies })
  }

  private async output(dep: string, owner: string, signal: AbortSignal): Promise<Json> {
    const { results } = this.opts
    let record: ResultRecord | undefined = results.cached(dep)
    if (record === undefined && owner !== this.opts.self) {
      try {
        const value = await this.opts.fetchFrom(owner, dep, signal)
        if (value !== undefined) record = results.accept(results.open(value, resultKey(dep)), value)
      } catch {
        // the owner is gone or slow: the DHT has the record
      }
    }
    record ??= await results.get(dep, { signal })
    if (record === undefined) throw new Error(`no result found for dependency ${dep}`)
    if (record.status !== 'succeeded') throw new FailedDependencyError(dependencyFailure(dep, record.error))
    return record.output ?? null
  }
}
