import type { AttemptRecord } from '../../task/task.ts'
import { CANCEL_LOOKUP_MS, CANCELLED, type CancelResult } from '../owner/cancellation.ts'
import type { LivenessWatch } from '../peers/liveness-watch.ts'
import { ownerFailureRecord, type ResultPublisher } from '../results/result-publisher.ts'
import type { ResultStore } from '../results/result-store.ts'
import type { TaskRunner } from '../run/task-runner.ts'
import type { TaskEvents } from '../story/task-events.ts'
import type { Thief } from '../thief/thief.ts'
import type { Custodian } from './custodian.ts'

/** Options of {@link takeOverToCancel}. */
export interface TakeoverCancelOptions {
  self: string
  thief: Pick<Thief, 'entry' | 'dropLease'>
  runner: Pick<TaskRunner, 'isRunning' | 'runningEntries'>
  custodian: Pick<Custodian, 'leftHere'>
  liveness: Pick<LivenessWatch, 'isDead'>
  results: Pick<ResultStore, 'cached' | 'get'>
  publisher: Pick<ResultPublisher, 'publish'>
  events: TaskEvents
}

/**
 * Cancels a task this node runs (or holds queued) under the lease of an owner it declared dead,
 * when this node is the custodian the owner's other custodians leave the task to (its successor):
 * that successor adopts no task it runs under the dead owner's lease, so no other node will ever
 * take this one over — this node does, to end it. Like an adopter, it names itself the task's
 * owner and takes its epoch from the wall clock (above every epoch the dead owner allocated): it
 * aborts its run and publishes `failed` / `cancelled` under that epoch, with the run cut short in
 * the attempts. A task whose record exists already is left as it is (`finished`). Undefined when
 * this node is not that node (no such lease here, the owner not declared dead, another successor).
 */
export async function takeOverToCancel(
  opts: TakeoverCancelOptions,
  taskId: string,
): Promise<CancelResult | undefined> {
  const { self, thief, results } = opts
  const entry = thief.entry(taskId)
  if (entry === undefined) return undefined
  const down = entry.task.owner
  if (!opts.liveness.isDead(down) || !opts.custodian.leftHere(taskId)) return undefined
  // a record of another run may exist (two adopters, a run ended meanwhile): it stands
  const found = await results
    .get(taskId, { signal: AbortSignal.timeout(CANCEL_LOOKUP_MS) })
    .catch(() => undefined)
  const known = found ?? results.cached(taskId)
  if (known !== undefined) return { taskId, outcome: 'finished', owner: known.owner }
  if (thief.entry(taskId) !== entry) return undefined // the lease ended while the DHT was asked
  const now = Date.now()
  const running = opts.runner.runningEntries().find((r) => r.entry === entry)
  const cut: AttemptRecord[] =
    running === undefined
      ? []
      : [
          {
            cut: 'cancelled',
            epoch: entry.epoch,
            error: CANCELLED,
            executor: self,
            finishedAt: now,
            startedAt: running.startedAt,
          },
        ]
  const epoch = Math.max(now, entry.epoch) + 1
  thief.dropLease(taskId, CANCELLED) // its run is aborted; its outcome is dropped
  opts.events.emit(taskId, 'cancelled', {
    state: running === undefined ? 'queued' : 'running',
    epoch,
    from: down,
  })
  const taken = {
    task: { ...entry.task, owner: self },
    epoch,
    attempts: [...entry.attempts, ...cut],
    dependencies: {},
  }
  await opts.publisher.publish(ownerFailureRecord(taken, self, CANCELLED, epoch, now))
  return { taskId, outcome: 'cancelled', owner: self }
}
