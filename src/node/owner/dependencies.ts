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
  }
}
