import type { NodeOffer } from '../../policy/types.ts'
import type { ResultNotice } from '../../protocol/messages.ts'
import { QueueFullError } from '../../task/errors.ts'
import type { Json } from '../../task/spec.ts'
import type { Task } from '../../task/task.ts'
import { DEFAULT_PEER_STALE_MS } from '../options.ts'
import type { PeerView } from '../peers/peer-view.ts'
import type { ResultStore } from '../results/result-store.ts'
import type { LocalQueue } from '../run/local-queue.ts'
import type { RunEntry, TaskRunner } from '../run/task-runner.ts'
import type { StoryLog } from '../story/story.ts'
import { DependencyLoader } from '../thief/dependency-loader.ts'
import type { Thief } from '../thief/thief.ts'
import type { GossipInbox } from '../wire/gossip-inbox.ts'
import type { MeshLibp2p } from '../wire/libp2p-factory.ts'
import { requestCancelFrom, requestResultFrom, requestStateFrom } from '../wire/submit-service.ts'
import { type CancelResult, ownerFailureRecord, TaskControl, type TaskState } from './cancellation.ts'
import { DependencyGate } from './dependencies.ts'
import type { OwnerLedger } from './owner-ledger.ts'
import { type PreparedTask, prepareSubmission } from './submission.ts'
import { UNSCHEDULABLE_CHECK_MS, type UnschedulableTask, UnschedulableWatch } from './unschedulable.ts'

/** How a task is adopted into the ledger (see `OwnerLedger.adopt`). */
type AdoptOptions = NonNullable<Parameters<OwnerLedger['adopt']>[1]>

/** The parts of a node that graphs, cancellation, unschedulable checks and stories work with. */
export interface TaskFlowParts {
  self: string
  libp2p: MeshLibp2p
  offer: NodeOffer
  queue: LocalQueue
  peers: PeerView
  runner: TaskRunner
  ledger: OwnerLedger
  thief: Thief
  results: ResultStore
  inbox: GossipInbox
  story: StoryLog
  /** Most tasks queued (and waiting) here before submissions are refused. */
  maxQueueLength: number
  unschedulableAfterMs: number
  random(): number
  /** True when this node runs the handler type or some peer advertises it. */
  knowsType(type: string): boolean
  /** Gossips that a record was stored (batched result notices). */
  notice(n: ResultNotice['results'][number]): void
  schedulePump(): void
  state(): 'new' | 'running' | 'stopping' | 'stopped'
}

/**
 * What a node adds to the plain submit → queue → run path: submissions that are graphs (tasks
 * wait at their owner for their dependencies, get their outputs, and fail when one fails),
 * cancellation by id, the state of a task, the owner's unschedulable check, and the outputs a
 * thief fetches before it runs a stolen task with dependencies.
 */
export class TaskFlow {
  readonly gate: DependencyGate
  readonly watch: UnschedulableWatch
  readonly control: TaskControl
  /** The executor the node's runner uses: it fills in missing dependency outputs first. */
  readonly loader: DependencyLoader
  /** How each task waiting in the gate is to be adopted once released. */
  private readonly heldAs = new Map<string, AdoptOptions>()

  constructor(
    private readonly p: TaskFlowParts,
    executor: ConstructorParameters<typeof DependencyLoader>[0]['executor'],
  ) {
    const { story, ledger, thief, results, libp2p, self } = p
    this.gate = new DependencyGate({
      results,
      onReady: (task, outputs) => this.release(task, outputs),
      onFailed: (task, reason) => {
        this.heldAs.delete(task.id)
        story.record(task.id, 'dependency-failed', { reason })
        void this.publishFailure({ task, epoch: 0, attempts: [], dependencies: {} }, reason, 0)
      },
    })
    this.watch = new UnschedulableWatch({
      self,
      offer: p.offer,
      queue: p.queue,
      peers: p.peers,
      afterMs: p.unschedulableAfterMs,
      staleAfterMs: DEFAULT_PEER_STALE_MS,
      onChange: (id, flagged, reasons) =>
        story.record(
          id,
          flagged ? 'unschedulable' : 'schedulable',
          flagged ? { reasons: reasons.join('; ') } : {},
        ),
    })
    this.control = new TaskControl({
      self,
      gate: {
        has: (id) => this.gate.has(id),
        missing: (id) => this.gate.missing(id),
        cancel: (id) => {
          this.heldAs.delete(id)
          return this.gate.cancel(id)
        },
      },
      ledger,
      queue: p.queue,
      runner: p.runner,
      thief,
      results,
      unschedulable: this.watch,
      story,
      announcedOwner: (id) => p.inbox.announcedTask(id)?.owner,
      publishFailure: (entry, error, epoch) => this.publishFailure(entry, error, epoch),
      forwardCancel: (owner, id) => requestCancelFrom(libp2p, owner, id),
      askState: (owner, id) => requestStateFrom(libp2p, owner, id),
    })
    this.loader = new DependencyLoader({
      executor,
      entry: (id) => ledger.get(id)?.entry ?? thief.entry(id),
      results,
      fetchFrom: (peer, id, signal) => requestResultFrom(libp2p, peer, id, signal),
      self,
    })
    const timer = setInterval(() => {
      if (p.state() === 'stopped') clearInterval(timer)
      else if (p.state() === 'running') this.watch.check()
    }, UNSCHEDULABLE_CHECK_MS)
    timer.unref()
  }

  /**
   * Validates a submission (specs, or a graph of items with `key` and `dependsOn`) and accepts it
   * whole: tasks without dependencies are queued, the others wait here for theirs.
   * @throws InvalidTaskError / UnknownHandlerError / QueueFullError — nothing is queued.
   */
  accept(items: unknown[], submitter: string): PreparedTask[] {
    const { p } = this
    if (p.state() !== 'running') throw new QueueFullError('node is not running')
    const { tasks, order } = prepareSubmission(items, {
      submitter,
      owner: p.self,
      now: Date.now(),
      random: p.random,
      knowsType: p.knowsType,
      isKnownId: (id) => p.ledger.has(id) || this.gate.has(id) || p.results.cached(id) !== undefined,
    })
    const held = p.queue.size + this.gate.size
    if (held + tasks.length > p.maxQueueLength) {
      throw new QueueFullError(
        `queue full: ${held} queued or waiting + ${tasks.length} submitted exceeds ${p.maxQueueLength}`,
      )
    }
    for (const i of order) {
      p.story.record(tasks[i].task.id, 'accepted', { submitter })
      this.own(tasks[i].task)
    }
    p.schedulePump()
    return tasks
  }

  /**
   * Takes a task into ownership: queued at once when it has no dependencies, else held until
   * they all succeeded (then adopted with `opts`, e.g. `{ as: 'adopted', floor }` for a task taken
   * over from a dead owner or replayed from the journal). False when it is owned or held already.
   */
  own(task: Task, opts: AdoptOptions = {}): boolean {
    const { ledger, story } = this.p
    if (task.spec.dependsOn.length === 0) {
      if (!ledger.adopt(task, opts)) return false
      story.record(task.id, 'queued')
      return true
    }
    if (ledger.has(task.id) || this.gate.has(task.id)) return false
    story.record(task.id, 'waiting-on-deps', { on: task.spec.dependsOn.join(', ') })
    this.heldAs.set(task.id, opts)
    this.gate.hold(task)
    return true
  }

  cancel(taskId: string, opts: { forwarded?: boolean } = {}): Promise<CancelResult> {
    return this.control.cancel(taskId, opts)
  }

  state(taskId: string, opts: { forwarded?: boolean } = {}): Promise<TaskState> {
    return this.control.state(taskId, opts)
  }

  /** Owned queued tasks no live node can run. */
  unschedulable(): UnschedulableTask[] {
    return this.watch.list()
  }

  /** Signs and publishes a failed record as the owner, the way results travel (waiters, DHT, notices). */
  async publishFailure(entry: RunEntry, error: string, epoch: number): Promise<void> {
    const record = ownerFailureRecord(entry, this.p.self, error, epoch)
    await this.p.results.publish(record)
    this.p.notice({ taskId: record.taskId, status: 'failed', epoch })
    this.p.story.record(record.taskId, 'finished', { status: 'failed', error, epoch })
  }

  private release(task: Task, outputs: Record<string, Json>): void {
    const { ledger, story } = this.p
    ledger.adopt(task, this.heldAs.get(task.id) ?? {})
    this.heldAs.delete(task.id)
    const own = ledger.get(task.id)
    if (own !== undefined) own.entry.dependencies = outputs
    story.record(task.id, 'queued', { dependencies: Object.keys(outputs).length })
    this.p.schedulePump()
  }
}
