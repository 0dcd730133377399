import { NodeStoppedError, QueueFullError } from '../../task/errors.ts'
import type { Json } from '../../task/spec.ts'
import type { Task } from '../../task/task.ts'
import { nextTurn, turnEnd } from '../../util/in-turns.ts'
import { ownerFailureRecord, type ResultPublisher } from '../results/result-publisher.ts'
import type { ResultStore } from '../results/result-store.ts'
import type { LocalQueue } from '../run/local-queue.ts'
import type { TaskEvents } from '../story/task-events.ts'
import { DependencyGate } from './dependencies.ts'
import { recordedDependencies } from './known-dependencies.ts'
import type { OwnerLedger, Ownership } from './owner-ledger.ts'
import { type PreparedTask, prepareSubmissionInTurns, SUBMISSION_TURN_ITEMS } from './submission.ts'

/** Tasks of an accepted submission taken into the ledger per turn of the event loop. */
export const INTAKE_TURN_ITEMS = SUBMISSION_TURN_ITEMS

/** How a task is taken into the ledger once it may run. */
export interface Takeover {
  as?: Ownership
  floor?: number
  /** The task is in the journal already (with its submission). */
  journalled?: boolean
}

/** Options of {@link Intake}. */
export interface IntakeOptions {
  self: string
  ledger: Pick<OwnerLedger, 'take' | 'has' | 'journalAll' | 'journalLater' | 'endWaiting'>
  queue: Pick<LocalQueue, 'size'>
  /**
   * Dependencies' records (the gate waits on them; one that nothing here will bring is read from the
   * local store, else polled for: see {@link Intake.own}); ids known here.
   */
  results: Pick<ResultStore, 'wait' | 'cached' | 'local' | 'poll' | 'get'>
  /** Publishes the owner's failed record of a task whose dependency failed. */
  publisher: Pick<ResultPublisher, 'publish'>
  events: TaskEvents
  /** Most tasks queued (and waiting) here before submissions are refused. */
  maxQueueLength: number
  random(): number
  /** True when this node runs the handler type or some peer advertises it. */
  knowsType(type: string): boolean
  /** See `SubmissionContext.knownTypes`. */
  knownTypes?(): string[]
  /** See `SubmissionContext.checkInput`. */
  checkInput?(type: string, input: Json): string | undefined
  /** Where the node is in its life: it accepts submissions only while `running`. */
  state(): string
}

/**
 * How tasks come into this node's ownership: a submission (specs, or a graph of items with `key`
 * and `dependsOn`) is validated and accepted whole, and each task is either taken into the ledger
 * (queued) at once or, when it has dependencies, held in the {@link DependencyGate} until they all
 * succeeded — then taken with their outputs — or one failed, which fails it.
 */
export class Intake {
  /** Owned tasks waiting for their dependencies. */
  readonly gate: DependencyGate
  /** How each task waiting in the gate is to be taken over once released. */
  private readonly heldAs = new Map<string, Takeover>()
  /** Tasks of accepted submissions not yet taken into the ledger (taken in turns). */
  private taking = 0

  constructor(private readonly opts: IntakeOptions) {
    this.gate = new DependencyGate({
      results: opts.results,
      seek: (dep, signal) => this.seek(dep, signal),
      onReady: (task, outputs) => this.release(task, outputs),
      onFailed: (task, reason) => {
        // a task taken over from another owner fails above every epoch that owner may have leased
        const epoch = this.heldAs.get(task.id)?.floor ?? 0
        this.heldAs.delete(task.id)
        opts.events.emit(task.id, 'dependency-failed', { reason })
        opts.ledger.endWaiting(task.id)
        const entry = { task, epoch, attempts: [], dependencies: {} }
        void opts.publisher.publish(ownerFailureRecord(entry, opts.self, reason, epoch))
      },
    })
  }

  /**
   * Validates a submission and accepts it whole: tasks without dependencies are queued, the
   * others wait here for theirs; all of them go into the journal together, in one group commit. A large submission is checked over several turns of the event
   * loop (`prepareSubmissionInTurns`); nothing is queued until all of it passed. Then its tasks
   * are taken {@link INTAKE_TURN_ITEMS} per turn: the first run while the rest go in.
   * @param how.journalAfter - journal the tasks once this settles, those still without a result
   *   (`OwnerLedger.journalLater`); at once when absent.
   * @returns the tasks, and when they are in the journal (rejects when that write failed).
   * @throws InvalidTaskError / UnknownHandlerError / QueueFullError / NodeStoppedError — nothing is queued.
   */
  async accept(
    items: unknown[],
    submitter: string,
    how: { journalAfter?: Promise<unknown> } = {},
  ): Promise<{ tasks: PreparedTask[]; journalled: Promise<void> }> {
    const { opts } = this
    this.mustRun()
    const known = (id: string) =>
      opts.ledger.has(id) || this.gate.has(id) || opts.results.cached(id) !== undefined
    // a dependency that ended long ago, or at another node, is met: its record is read, not cached
    const recorded = await recordedDependencies(items, {
      knows: known,
      local: (id) => opts.results.local(id),
      get: (id, o) => opts.results.get(id, o),
    })
    const { tasks, order } = await prepareSubmissionInTurns(items, {
      submitter,
      owner: opts.self,
      now: Date.now(),
      random: opts.random,
      knowsType: opts.knowsType,
      knownTypes: opts.knownTypes,
      checkInput: opts.checkInput,
      isKnownId: (id) => known(id) || recorded.has(id),
    })
    this.mustRun() // the node may have begun to stop while the submission was checked
    const held = opts.queue.size + this.gate.size + this.taking
    if (tasks.length > opts.maxQueueLength) {
      throw new QueueFullError(
        `a submission of ${tasks.length} tasks can never fit a queue of at most ${opts.maxQueueLength}: split it`,
      )
    }
    if (held + tasks.length > opts.maxQueueLength) {
      throw new QueueFullError(
        `queue full: ${held} queued or waiting + ${tasks.length} submitted exceeds ${opts.maxQueueLength}`,
      )
    }
    // accepted from here on: taken in turns, the first ones run (and are stolen) while the rest
    // go in; counted as held until taken, so a submission checked meanwhile sees them
    this.taking += order.length
    let left = order.length
    // every task goes into the journal together, as one group — those that wait for their
    // dependencies too: a restart or a custodian must find them, as their ids were answered
    const all = order.map((i) => tasks[i].task)
    const journalled =
      how.journalAfter === undefined
        ? opts.ledger.journalAll(all)
        : opts.ledger.journalLater(all, how.journalAfter)
    try {
      for (const [n, i] of order.entries()) {
        // once the node begins to stop, the rest go in this turn (as they did before it began)
        if (n > 0 && n % INTAKE_TURN_ITEMS === 0 && opts.state() === 'running') await nextTurn()
        opts.events.emit(tasks[i].task.id, 'accepted', { submitter })
        this.own(tasks[i].task, { journalled: true })
        this.taking--
        left--
      }
    } finally {
      this.taking -= left
    }
    return { tasks, journalled }
  }

  /** Refuses a submission unless the node runs: a draining or starting one may be asked again later, a stopping or stopped one never. */
  private mustRun(): void {
    const state = this.opts.state()
    if (state === 'running') return
    if (state === 'stopping' || state === 'stopped') throw new NodeStoppedError()
    throw new QueueFullError(
      state === 'draining' ? 'node is draining: submit to another node' : 'node is not running',
    )
  }

  /**
   * Takes a task into ownership: queued at once when it has no dependencies, else held until they
   * all succeeded (then taken over as `how` says, e.g. `{ as: 'adopted', floor }` for a task of a
   * dead owner, or `{ as: 'replayed', floor }` after a restart), failed when one failed. A waiting
   * task is in the journal while it waits: with its submission (`journalled`), from the journal
   * (`replayed`), or written now (in the turn's group commit). False when it is owned or held already.
   */
  own(task: Task, how: Takeover = {}): boolean {
    const { ledger, events } = this.opts
    if (task.spec.dependsOn.length === 0) return ledger.take(task, how)
    if (this.owns(task.id)) return false
    events.emit(task.id, 'waiting-on-deps', { on: task.spec.dependsOn.join(', ') })
    if (how.as !== 'replayed' && how.journalled !== true)
      void ledger.journalAll([task]).catch(() => undefined)
    this.heldAs.set(task.id, { ...how, journalled: true })
    this.gate.hold(task)
    return true
  }

  /** True when the task is owned here: in the ledger, or waiting in the gate. */
  owns(taskId: string): boolean {
    return this.opts.ledger.has(taskId) || this.gate.has(taskId)
  }

  /** The epoch floor a waiting task was taken over with (adopted, replayed); 0 for one submitted here. */
  floorOf(taskId: string): number {
    return this.heldAs.get(taskId)?.floor ?? 0
  }

  /** Takes a waiting task out of the gate (it is cancelled); undefined when it does not wait here. */
  cancelWaiting(taskId: string): Task | undefined {
    this.heldAs.delete(taskId)
    const task = this.gate.cancel(taskId)
    if (task !== undefined) this.opts.ledger.endWaiting(taskId) // its cancel record is published next
    return task
  }

  /**
   * Looks for a dependency's record that nothing here brings: one neither owned here nor known (a
   * task taken over or replayed may depend on one that ended before, here or at another node, or
   * that another node adopted) — the local store, then polls of the mesh until it is known here.
   * Judged at the end of the turn: an adoption or a replay takes a dependency in with its dependents.
   */
  private seek(dep: string, signal: AbortSignal): void {
    const { results } = this.opts
    void turnEnd()
      .then(async () => {
        if (signal.aborted || this.owns(dep) || results.cached(dep) !== undefined) return
        if ((await results.local(dep).catch(() => undefined)) !== undefined || signal.aborted) return
        await results.poll(dep, signal)
      })
      .catch(() => undefined)
  }

  private release(task: Task, dependencies: Record<string, Json>): void {
    const how = this.heldAs.get(task.id) ?? {}
    this.heldAs.delete(task.id)
    this.opts.ledger.take(task, { ...how, dependencies })
  }
}
