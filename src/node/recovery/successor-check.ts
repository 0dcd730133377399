import { MAX_LEASES_PER_MESSAGE } from '../../protocol/constants.ts'
import type { Task } from '../../task/task.ts'
import { successorOf } from './successor.ts'

/** What a custodian answers about task ids of one owner: the ones it guards, the ones it has taken. */
export interface Known {
  guarded: string[]
  taken: string[]
}

/** Asks `peer` which of the ids of `owner`'s tasks it knows (custody `query`). */
export type AskKnown = (peer: string, owner: string, ids: string[]) => Promise<Known>

/** Tasks of one dead owner that the custodian's list leaves to another custodian, by that custodian. */
export type LeftTo = Map<string, { owner: string; tasks: Task[] }[]>

/**
 * Splits the open tasks of one dead owner by successor among `candidates`: returns this node's
 * share and adds the others' to `leftTo`, by successor.
 */
export function splitBySuccessor(
  owner: string,
  tasks: readonly Task[],
  candidates: readonly string[],
  self: string,
  leftTo: LeftTo,
): Task[] {
  const mine: Task[] = []
  const theirs = new Map<string, Task[]>()
  for (const task of tasks) {
    const successor = successorOf(task.id, candidates)
    if (successor === self) mine.push(task)
    else if (successor !== undefined) {
      const list = theirs.get(successor)
      if (list === undefined) theirs.set(successor, [task])
      else list.push(task)
    }
  }
  for (const [peer, share] of theirs) {
    const groups = leftTo.get(peer)
    if (groups === undefined) leftTo.set(peer, [{ owner, tasks: share }])
    else groups.push({ owner, tasks: share })
  }
  return mine
}

/**
 * Before a custodian leaves a dead owner's tasks to the successor its list names, it asks that
 * successor whether it knows them: a custodian named in the owner's last `hold` may never have got
 * the tasks (the owner died with a `hold` to it in flight), and then no one would adopt its share.
 * Returns the tasks a successor answered it does not know (the asker adopts them, after the usual
 * DHT check) and the ids a successor has taken (the asker forgets them). A successor that cannot
 * be asked (unreachable, or a peer without `query`) is left its share, as before: it is judged
 * again at the next sweep.
 */
export async function checkSuccessors(
  leftTo: LeftTo,
  ask: AskKnown,
): Promise<{ unknown: Task[]; taken: string[] }> {
  const unknown: Task[] = []
  const taken: string[] = []
  const asks: Promise<void>[] = []
  for (const [peer, groups] of leftTo) {
    for (const { owner, tasks } of groups) {
      for (let i = 0; i < tasks.length; i += MAX_LEASES_PER_MESSAGE) {
        const chunk = tasks.slice(i, i + MAX_LEASES_PER_MESSAGE)
        asks.push(
          ask(
            peer,
            owner,
            chunk.map((t) => t.id),
          ).then(
            (known) => {
              const seen = new Set([...known.guarded, ...known.taken])
              for (const t of chunk) if (!seen.has(t.id)) unknown.push(t)
              taken.push(...known.taken)
            },
            () => undefined,
          ),
        )
      }
    }
  }
  await Promise.all(asks)
  return { unknown, taken }
}
