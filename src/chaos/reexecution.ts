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
 * that started before the failure and had not ended by then — the time from the failure (the kill
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
      if (cut.endedAt !== undefined && cut.endedAt <= fault.at) continue
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
