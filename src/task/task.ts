import type { Json, TaskSpec } from './spec.ts'

/** An accepted task: the spec plus who submitted it, where, and when. */
export interface Task {
  /** Content-derived id (see `taskId`). */
  id: string
  spec: TaskSpec
  /** Peer id (or client name) of the submitter. */
  submitter: string
  /** Makes the id unique among equal specs. */
  nonce: string
  /** Peer id of the node that accepted the submission. */
  owner: string
  /** Unix ms when the owner accepted it. */
  submittedAt: number
}

/** Final state of a task. */
export type TaskStatus = 'succeeded' | 'failed'

/**
 * How a run was cut short before its handler ended: its executor was `lost` (it died, or stopped
 * renewing its lease), its node stopped (`interrupted`: the run was handed back), or the task was
 * `cancelled`.
 */
export type AttemptCut = 'lost' | 'interrupted' | 'cancelled'

/** One run of a task, kept in the result so every error stays visible. */
export interface AttemptRecord {
  executor: string
  epoch: number
  /** For a run cut short by its executor's loss: when its lease was granted. */
  startedAt: number
  finishedAt: number
  error?: string
  /** The top of the handler's stack trace, when it threw an error that has one. */
  stack?: string
  /** Set when the run did not end on its own (see {@link AttemptCut}); absent for a handler that returned or threw. */
  cut?: AttemptCut
}

/** Runs whose handler ended on its own: what `maxAttempts` counts (lost, interrupted and cancelled runs do not). */
export function handlerRuns(attempts: readonly AttemptRecord[]): number {
  let n = 0
  for (const a of attempts) if (a.cut === undefined) n++
  return n
}

/** What an executor reports when an attempt ends. */
export interface TaskOutcome {
  status: TaskStatus
  output?: Json
  error?: string
}

/** Each task's JSON, made once per task object (a task's JSON never changes once made). */
const texts = new WeakMap<Task, string>()
/** Each task's JSON size in UTF-8 bytes, noted with its text and kept after the text is let go. */
const sizes = new WeakMap<Task, number>()

/**
 * `JSON.stringify(task)`, made once per task object: an owner writes each task it accepts into its
 * journal and into its custodians' `hold` frames, and serialising it twice was ~1 % of its CPU.
 */
export function taskText(task: Task): string {
  let text = texts.get(task)
  if (text === undefined) {
    text = JSON.stringify(task)
    texts.set(task, text)
    sizes.set(task, Buffer.byteLength(text))
  }
  return text
}

/**
 * `JSON.stringify(task)` for a use that comes once in a long while (a journal's compaction): the
 * text {@link taskText} keeps, when it still does, else made and not kept.
 */
export function taskJson(task: Task): string {
  return texts.get(task) ?? JSON.stringify(task)
}

/**
 * The UTF-8 bytes of `JSON.stringify(task)`: noted when the task's text was made (an owner makes it
 * as it accepts the task), else counted once. A steal grant bounds its frame by it for each task it
 * leases, where serialising the task again was the owner's largest cost of a grant.
 */
export function taskByteLength(task: Task): number {
  let size = sizes.get(task)
  if (size === undefined) {
    size = Buffer.byteLength(JSON.stringify(task))
    sizes.set(task, size)
  }
  return size
}

/**
 * Lets go of a task's text once the last of its users at acceptance has it (an owner's custody
 * `hold`, after the journal): a queued task keeps no copy of itself as text meanwhile.
 */
export function forgetTaskText(task: Task): void {
  texts.delete(task)
}

/** The empty list every kept task without dependencies or labels points at (frozen: never changed). */
const NO_ENTRIES: string[] = Object.freeze([]) as unknown as string[]

/**
 * Points a task decoded from `sender`'s frame, and kept long (a custodian's), at parts shared by
 * every such task where its own are equal: the sender's peer id string (its `owner`, checked, and
 * its `submitter` when the same) and one empty list for no dependencies and no labels. A queued
 * backlog lives in the old generation, which the collector marks again and again.
 */
export function shareParts(task: Task, sender: string): void {
  task.owner = sender
  if (task.submitter === sender) task.submitter = sender
  if (task.spec.dependsOn.length === 0) task.spec.dependsOn = NO_ENTRIES
  if (task.spec.resources.labels.length === 0) task.spec.resources.labels = NO_ENTRIES
}
