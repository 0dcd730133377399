import { Counter, Histogram, type Registry } from 'prom-client'
import { trimOldest } from '../../util/trim-oldest.ts'
import { CANCELLED } from '../owner/cancellation.ts'
import type { TaskEvent } from '../story/task-events.ts'

/** Tasks whose start times a node keeps for its histograms at most (the oldest are dropped first). */
export const MAX_TIMED_TASKS = 100_000
/** Buckets of task durations, seconds: 5 ms to 5 minutes. */
const TASK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
/** Buckets of a steal's round trip, seconds: 1 ms to 2.5 s. */
const RTT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

/** Seconds from `start` (Unix ms, when known) to `at` (no closure per event: this runs several times per task). */
function secondsSince(start: number | undefined, at: number): number | undefined {
  return start === undefined ? undefined : (at - start) / 1000
}

/** Start times by task id, bounded: a task that never ends here is forgotten in time. */
class Starts {
  private readonly at = new Map<string, number>()
  set(id: string, t: number): void {
    this.at.delete(id) // re-inserted last: the oldest stay first
    this.at.set(id, t)
    trimOldest(this.at, MAX_TIMED_TASKS)
  }
  /** The start of `id`, forgotten. */
  take(id: string): number | undefined {
    const t = this.at.get(id)
    this.at.delete(id)
    return t
  }
}

/**
 * Histograms and counters a node derives from its task events (`TaskEvents`): how long tasks wait
 * in its queue (queued or stolen → started), how long they run here (started → finished or a failed
 * attempt), how long its own tasks take from submission to result (accepted → settled), and the
 * records it published by status. The steal round trip is told by the thief.
 */
export class TaskTimings {
  private readonly queueWait: Histogram
  private readonly run: Histogram<'outcome'>
  private readonly submitToResult: Histogram
  private readonly stealRtt: Histogram
  private readonly finished: Counter<'status'>
  private readonly queued = new Starts()
  private readonly started = new Starts()
  private readonly accepted = new Starts()

  constructor(registry: Registry) {
    const registers = [registry]
    this.queueWait = new Histogram({
      name: 'taskmesh_queue_wait_seconds',
      help: 'Time a task waited in this node’s queue: queued (or stolen, or retried) to started',
      buckets: TASK_BUCKETS,
      registers,
    })
    this.run = new Histogram({
      name: 'taskmesh_run_seconds',
      help: 'Time an attempt ran here: started to finished (outcome succeeded, failed, cancelled) or to a retry (failed)',
      labelNames: ['outcome'],
      buckets: TASK_BUCKETS,
      registers,
    })
    this.submitToResult = new Histogram({
      name: 'taskmesh_submit_to_result_seconds',
      help: 'Time from a submission accepted here (the owner) to its result settled',
      buckets: TASK_BUCKETS,
      registers,
    })
    this.stealRtt = new Histogram({
      name: 'taskmesh_steal_round_trip_seconds',
      help: 'Round trip of this node’s steal requests (request sent to grant received)',
      buckets: RTT_BUCKETS,
      registers,
    })
    this.finished = new Counter({
      name: 'taskmesh_tasks_finished_total',
      help: 'Result records this node published, by status: succeeded, failed, cancelled (a failed record whose error is the cancel)',
      labelNames: ['status'],
      registers,
    })
  }

  /** Takes one task event into the histograms. */
  observe(e: TaskEvent): void {
    switch (e.event) {
      case 'accepted':
        this.accepted.set(e.taskId, e.at)
        break
      case 'queued':
      case 'stolen':
      case 'retried':
        this.queued.set(e.taskId, e.at)
        break
      case 'started': {
        const waited = secondsSince(this.queued.take(e.taskId), e.at)
        if (waited !== undefined) this.queueWait.observe(waited)
        this.started.set(e.taskId, e.at)
        break
      }
      case 'finished': {
        // a cancel ends a task failed, its error `cancelled`: told apart, so failure rates count failures
        const status = String(e.detail?.status ?? 'unknown')
        const outcome = status === 'failed' && e.detail?.error === CANCELLED ? 'cancelled' : status
        this.finished.inc({ status: outcome })
        const ran = secondsSince(this.started.take(e.taskId), e.at)
        if (ran !== undefined) this.run.observe({ outcome }, ran)
        this.queued.take(e.taskId)
        break
      }
      case 'settled': {
        const took = secondsSince(this.accepted.take(e.taskId), e.at)
        if (took !== undefined) this.submitToResult.observe(took)
        this.queued.take(e.taskId)
        break
      }
      case 'granted':
        this.queued.take(e.taskId) // it waits at the thief now, which times its own queue
        break
      case 'dropped':
      case 'released':
        this.started.take(e.taskId)
        break
    }
    if (e.event === 'retried') {
      const ran = secondsSince(this.started.take(e.taskId), e.at)
      if (ran !== undefined) this.run.observe({ outcome: 'failed' }, ran)
    }
  }

  /** One steal request answered (granted or empty) after `ms`. */
  stealRoundTrip(ms: number): void {
    this.stealRtt.observe(ms / 1000)
  }
}
