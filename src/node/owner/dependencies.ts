import type { ResultRecord } from '../../protocol/records/result-record.ts'
import type { Json } from '../../task/spec.ts'
import type { Task } from '../../task/task.ts'
import type { ResultStore } from '../results/result-store.ts'
import { dependencyFailure } from './failure-chain.ts'

interface Waiting {
  task: Task
  /** Outputs of the dependencies that succeeded so far, by task id. */
  outputs: Record<string, Json>
  /** Dependencies without a result yet. */
  missing: Set<string>
  /** Ends the waits on the dependencies' results. */
  stop: AbortController
}

/** Options of {@link DependencyGate}. */
export interface DependencyGateOptions {
  /** Wakes the gate when a dependency's record is known here (run here, completed, or fetched). */
  results: Pick<ResultStore, 'wait'>
  /**
   * Looks for the record of a dependency until it is known here or `signal` aborts — for one whose
   * record no run, completion or notice here may bring (a task taken over from a dead owner or
   * replayed after a restart may depend on a task that ended, or that another node adopted). Called
   * once per dependency while tasks wait for it. @defaultValue none: the gate only waits
   */
  seek?(taskId: string, signal: AbortSignal): void
  /** Every dependency succeeded: the task may be queued, with their outputs. */
  onReady(task: Task, outputs: Record<string, Json>): void
  /** A dependency failed (or was cancelled): the task fails with `reason`, never runs. */
  onFailed(task: Task, reason: string): void
}

/**
 * The owner's tasks that wait for their dependencies: not queued, not stealable, not announced as
 * work. Each waits on its dependencies' result records (known here when they ran here, when a
 * thief's completion carried them, or when a notice made this node fetch them). When all
 * succeeded, the task is released with `{ [id]: output }`; the first failed one fails it.
 */
export class DependencyGate {
  private readonly waiting = new Map<string, Waiting>()
  /** Dependencies sought (see `seek`): how many waiting tasks need each, and what ends the search. */
  private readonly sought = new Map<string, { needed: number; stop: AbortController }>()

  constructor(private readonly opts: DependencyGateOptions) {}

  /** Tasks waiting here. */
  get size(): number {
    return this.waiting.size
  }

  /** The tasks waiting here, in the order they came. */
  tasks(): Task[] {
    return [...this.waiting.values()].map((w) => w.task)
  }

  /** True when the task waits here for dependencies. */
  has(taskId: string): boolean {
    return this.waiting.has(taskId)
  }

  /** The dependencies a waiting task still waits for (empty when it does not wait here). */
  missing(taskId: string): string[] {
    return [...(this.waiting.get(taskId)?.missing ?? [])]
  }

  /** Holds a task until its dependencies have results; they may have them already. */
  hold(task: Task): void {
    if (this.waiting.has(task.id)) return
    const deps = new Set(task.spec.dependsOn)
    const w: Waiting = { task, outputs: {}, missing: deps, stop: new AbortController() }
    this.waiting.set(task.id, w)
    for (const dep of [...deps]) {
      this.opts.results.wait(dep, w.stop.signal).then(
        (record) => this.onRecord(w, dep, record),
        () => undefined, // cancelled, or the node stops
      )
      if (this.opts.seek !== undefined) this.seek(dep)
    }
  }

  /** Takes a waiting task out (it is cancelled); undefined when it does not wait here. */
  cancel(taskId: string): Task | undefined {
    const w = this.waiting.get(taskId)
    if (w === undefined) return undefined
    this.drop(w)
    return w.task
  }

  private onRecord(w: Waiting, dep: string, record: ResultRecord): void {
    if (this.waiting.get(w.task.id) !== w || !w.missing.has(dep)) return
    if (record.status !== 'succeeded') {
      this.drop(w)
      this.opts.onFailed(w.task, dependencyFailure(dep, record.error))
      return
    }
    w.outputs[dep] = record.output ?? null
    w.missing.delete(dep)
    if (w.missing.size > 0) return
    this.drop(w)
    this.opts.onReady(w.task, w.outputs)
  }

  private drop(w: Waiting): void {
    this.waiting.delete(w.task.id)
    w.stop.abort()
    if (this.opts.seek === undefined) return
    for (const dep of new Set(w.task.spec.dependsOn)) {
      const search = this.sought.get(dep)
      if (search === undefined || --search.needed > 0) continue
      this.sought.delete(dep)
      search.stop.abort()
    }
  }

  /** One search per dependency, however many tasks wait for it; it ends with the last of them. */
  private seek(dep: string): void {
    const search = this.sought.get(dep)
    if (search !== undefined) {
      search.needed++
      return
    }
    const stop = new AbortController()
    this.sought.set(dep, { needed: 1, stop })
    this.opts.seek?.(dep, stop.signal)
  }
}
