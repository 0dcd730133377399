import type { Execution, Fault } from './history.ts'

/** A run cut off by a failure, and when the task started again elsewhere. */
export interface Reexecution {
  taskId: string
  fault: Fault
  /** ms from the failure to the next start of the task on another node or life of a node; absent if none. */
  delayMs?: number
}

/**
 * Time to re-execution: for every run a failure cut off — a run on the failed life of the node
 * that started before the failure and had not ended by then (for a kill: never ended; a run that
 * logged its end did so before SIGKILL landed, however close) — the time from the failure (the kill
 * or the SIGSTOP) to the first start of the same task after it on another node, or on the same
 * node after a restart. A frozen run that finishes after SIGCONT and is never started elsewhere has
 * no delay.
 */
export function reexecutions(executions: Execution[], faults: Fault[]): Reexecution[] {
  const runsOf = new Map<string, Execution[]>()
  for (const e of executions) {
    const list = runsOf.get(e.taskId) ?? []
    list.push(e)
    runsOf.set(e.taskId, list)
  }
  const out: Reexecution[] = []
  for (const fault of faults) {
    for (const cut of executions) {
      const onFailedLife = cut.node === fault.node && cut.incarnation === fault.incarnation
      if (!onFailedLife || cut.startedAt > fault.at) continue
      // a run whose end was logged on a killed life ended before the kill took effect: the fault's
      // time is read just before the signal goes, and nothing of a life is written after SIGKILL
      if (cut.endedAt !== undefined && (fault.kind === 'kill' || cut.endedAt <= fault.at)) continue
      const next = (runsOf.get(cut.taskId) ?? [])
        .filter((e) => e !== cut && e.startedAt >= fault.at)
        .filter((e) => e.node !== fault.node || e.incarnation !== fault.incarnation)
        .reduce<number | undefined>(
          (min, e) => (min === undefined ? e.startedAt : Math.min(min, e.startedAt)),
          undefined,
        )
      out.push({ taskId: cut.taskId, fault, delayMs: next === undefined ? undefined : next - fault.at })
    }
  }
  return out
}
