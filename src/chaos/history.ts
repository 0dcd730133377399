/**
 * The history of a chaos run and its checker (pure: no I/O, no clocks).
 *
 * A run records what the harness did (tasks it submitted and which node accepted them, faults it
 * injected) and what the mesh did (every execution each node's handler logged, the record each node
 * reads for each task at the end). {@link checkHistory} classifies every accepted task:
 *
 * - **ok** — ran once; every node reads the same record, with the expected output.
 * - **duplicated** — ran more than once, and every run after the first is excused: a node involved
 *   with the task (it accepted, ran, or owned it) failed while the task was pending.
 * - **lost** — accepted, and no node has a record of it (or it never ran).
 * - **unexpected** — anything the promises rule out: a wrong output or status, records that differ
 *   between nodes, a record or a run of something never submitted, a second run no failure
 *   explains.
 */

/** A task the harness submitted and a node accepted (its submit call answered with the id). */
export interface SubmittedTask {
  /** The harness's own name for the task; the task's input carries it. */
  key: string
  /** The id the accepting node answered with. */
  taskId: string
  /** Name of the node that accepted it (its first owner). */
  node: string
  /**
   * When the submit call was sent, ms (the wall clock every process of the run shares): the task
   * may be running somewhere before the call answers.
   */
  submittedAt: number
  /** The output a correct run returns. */
  expectedOutput: unknown
}

/** One run of a task's handler, as the node's handler logged it. */
export interface Execution {
  /** Node that ran it. */
  node: string
  /** Which life of the node (a restart starts a new one): its process id. */
  incarnation: number
  taskId: string
  key: string
  startedAt: number
  /** When the handler returned; absent when the process died (or stayed frozen) first. */
  endedAt?: number
}

/** A failure the nemesis injected. */
export interface Fault {
  /** `cut`: the node ran on, cut off the network (its peers took it for dead, and it them). */
  kind: 'kill' | 'freeze' | 'cut'
  node: string
  /** The life of the node that failed (its process id). */
  incarnation: number
  at: number
  /** When it came back (restart, SIGCONT, or the cut's end); absent when it stayed down. */
  recoveredAt?: number
}

/** The parts of a result record the checker compares between nodes. */
export interface RecordView {
  taskId: string
  status: string
  output?: unknown
  /** Name of the executor node (peer id mapped to the node's name), or the peer id if unknown. */
  executor: string
  /** Name of the owner node, likewise. */
  owner: string
  epoch: number
}

/** Everything a run recorded. */
export interface History {
  tasks: SubmittedTask[]
  executions: Execution[]
  faults: Fault[]
  /**
   * What each node read at the end, by task id: the record, or `undefined` when it had none. A
   * task id missing from a node's map was not read there (every task is read at least at the node
   * that accepted it).
   */
  reads: Record<string, Record<string, RecordView | undefined>>
  /**
   * How long after a run ends its record may still depend on the node that ran or owns it (the
   * completion report, the result notice and the replication to the closest peers are on their
   * way): a failure of that node within this window excuses another run, ms.
   */
  settleMs: number
}

export type Outcome = 'ok' | 'duplicated' | 'lost' | 'unexpected'

/** The verdict on one task, or on something that was never submitted. */
export interface TaskVerdict {
  outcome: Outcome
  taskId: string
  key?: string
  /** How many times the handler ran it. */
  runs: number
  /** Why it is not ok. */
  reasons: string[]
}

/** The checker's answer. */
export interface Verdict {
  counts: Record<Outcome, number>
  /** Verdicts that are not `ok`, plus one `unexpected` per stray run or record. */
  problems: TaskVerdict[]
  /** Tasks that ran more than once, each excused by a failure. */
  duplicates: TaskVerdict[]
}

function sameRecord(a: RecordView, b: RecordView): boolean {
  return (
    a.status === b.status &&
    a.executor === b.executor &&
    a.epoch === b.epoch &&
    JSON.stringify(a.output) === JSON.stringify(b.output)
  )
}

/**
 * The faults that excuse a task's second run: a node involved with it was down (killed or frozen)
 * at some time while it was pending — the fault may have begun before the submission: an owner
 * may offer a task to a peer frozen since its last beacon, which runs it once it thaws.
 */
function excusingFaults(task: SubmittedTask, runs: Execution[], records: RecordView[], history: History) {
  const involved = new Set([task.node, ...runs.map((e) => e.node), ...records.map((r) => r.owner)])
  const ends = runs.map((e) => e.endedAt).filter((t): t is number => t !== undefined)
  const pendingUntil = (ends.length > 0 ? Math.min(...ends) : Number.POSITIVE_INFINITY) + history.settleMs
  return history.faults.filter(
    (f) =>
      involved.has(f.node) &&
      f.at <= pendingUntil &&
      (f.recoveredAt ?? Number.POSITIVE_INFINITY) >= task.submittedAt,
  )
}

function judgeTask(task: SubmittedTask, runs: Execution[], history: History): TaskVerdict {
  const reasons: string[] = []
  const views = Object.entries(history.reads)
    .filter(([, reads]) => task.taskId in reads)
    .map(([node, reads]) => ({ node, record: reads[task.taskId] }))
  const records = views.map((v) => v.record).filter((r): r is RecordView => r !== undefined)
  const verdict = (outcome: Outcome): TaskVerdict => ({
    outcome,
    taskId: task.taskId,
    key: task.key,
    runs: runs.length,
    reasons,
  })
  if (records.length === 0) {
    reasons.push(runs.length === 0 ? 'never ran, no record' : `ran ${runs.length}×, no node has a record`)
    return verdict('lost')
  }
  const missing = views.filter((v) => v.record === undefined).map((v) => v.node)
  if (missing.length > 0) reasons.push(`no record at ${missing.join(', ')}`)
  if (!records.every((r) => sameRecord(r, records[0]))) {
    const seen = views.map((v) => `${v.node}: ${v.record ? `${v.record.executor}@${v.record.epoch}` : '-'}`)
    reasons.push(`records disagree (${seen.join('; ')})`)
  }
  for (const v of views) {
    if (v.record !== undefined && v.record.taskId !== task.taskId) {
      reasons.push(`${v.node} reads a record of ${v.record.taskId}`)
    }
  }
  const record = records[0]
  if (record.status !== 'succeeded') reasons.push(`status ${record.status}`)
  else if (JSON.stringify(record.output) !== JSON.stringify(task.expectedOutput)) {
    reasons.push(`output ${JSON.stringify(record.output)}, expected ${JSON.stringify(task.expectedOutput)}`)
  }
  if (runs.length === 0) reasons.push('a record, but the handler never ran')
  if (runs.length > 1 && excusingFaults(task, runs, records, history).length === 0) {
    reasons.push(`ran ${runs.length}× with no failure of a node involved while it was pending`)
  }
  if (reasons.length > 0) return verdict('unexpected')
  return verdict(runs.length > 1 ? 'duplicated' : 'ok')
}

/** Runs and records whose task was never accepted: one `unexpected` verdict per task id. */
function strays(history: History, accepted: Map<string, SubmittedTask>): TaskVerdict[] {
  const stray = new Map<string, TaskVerdict>()
  const note = (taskId: string, key: string | undefined, reason: string) => {
    const v = stray.get(taskId) ?? { outcome: 'unexpected', taskId, key, runs: 0, reasons: [] }
    if (!v.reasons.includes(reason)) v.reasons.push(reason)
    stray.set(taskId, v)
    return v
  }
  for (const e of history.executions) {
    const task = accepted.get(e.taskId)
    if (task === undefined) note(e.taskId, e.key, `ran on ${e.node}, never submitted`).runs++
    else if (task.key !== e.key) note(e.taskId, e.key, `ran with key ${e.key}, submitted as ${task.key}`)
  }
  for (const [node, reads] of Object.entries(history.reads)) {
    for (const [taskId, record] of Object.entries(reads)) {
      if (record !== undefined && !accepted.has(taskId))
        note(taskId, undefined, `record at ${node}, never submitted`)
    }
  }
  return [...stray.values()]
}

/** Classifies every accepted task of `history` (see the module comment for the classes). */
export function checkHistory(history: History): Verdict {
  const accepted = new Map(history.tasks.map((t) => [t.taskId, t]))
  const runsOf = new Map<string, Execution[]>()
  for (const e of history.executions) {
    const list = runsOf.get(e.taskId) ?? []
    list.push(e)
    runsOf.set(e.taskId, list)
  }
  const counts: Record<Outcome, number> = { ok: 0, duplicated: 0, lost: 0, unexpected: 0 }
  const problems: TaskVerdict[] = []
  const duplicates: TaskVerdict[] = []
  for (const task of accepted.values()) {
    const v = judgeTask(task, runsOf.get(task.taskId) ?? [], history)
    counts[v.outcome]++
    if (v.outcome === 'duplicated') duplicates.push(v)
    else if (v.outcome !== 'ok') problems.push(v)
  }
  for (const v of strays(history, accepted)) {
    counts.unexpected++
    problems.push(v)
  }
  return { counts, problems, duplicates }
}
