import { MAX_LEASES_PER_MESSAGE } from '../../protocol/constants.ts'
import type { KnownReply } from '../../protocol/messages/custody-messages.ts'
import type { Task } from '../../task/task.ts'
import { ADOPTION_LOOKUP_TRIES } from './open-lookups.ts'
import { successorOf } from './successor.ts'

/** What a custodian answers about task ids of one owner: the ones it guards, the ones it has taken. */
export type Known = Pick<KnownReply, 'guarded' | 'taken'>

/**
 * What a custodian answers a fellow custodian's `query` about ids of one owner: `taken` — owned
 * here (adopted: this node's own custodians guard it) or done; `guarded` — held in custody here
 * (`kept`) or run here under the owner's lease, not taken. A task only run here stays guarded: if
 * this node dies too, the asker must still adopt it.
 */
export function knownOf(
  ids: readonly string[],
  kept: ReadonlyMap<string, unknown> | undefined,
  here: { taken(id: string): boolean; runs(id: string): boolean },
): Known {
  const taken = ids.filter((id) => here.taken(id))
  const isTaken = new Set(taken)
  const guarded = ids.filter((id) => !isTaken.has(id) && (kept?.has(id) === true || here.runs(id)))
  return { guarded, taken }
}

/** Asks `peer` which of the ids of `owner`'s tasks it knows (custody `query`). */
export type AskKnown = (peer: string, owner: string, ids: string[]) => Promise<Known>

/** Tasks of dead owners that a custodian's lists leave to another custodian, by that custodian. */
export type LeftTo = Map<string, { owner: string; tasks: Task[] }[]>

/**
 * Splits the open tasks of one dead owner by successor among `candidates`: this node's share goes
 * into `into.mine`, the others' into `into.leftTo`, by successor.
 */
export function splitBySuccessor(
  owner: string,
  tasks: readonly Task[],
  candidates: readonly string[],
  self: string,
  into: { mine: Task[]; leftTo: LeftTo },
): void {
  const theirs = new Map<string, Task[]>()
  for (const task of tasks) {
    const successor = successorOf(task.id, candidates)
    if (successor === self) into.mine.push(task)
    else if (successor !== undefined) {
      const list = theirs.get(successor)
      if (list === undefined) theirs.set(successor, [task])
      else list.push(task)
    }
  }
  for (const [peer, share] of theirs) {
    const groups = into.leftTo.get(peer)
    if (groups === undefined) into.leftTo.set(peer, [{ owner, tasks: share }])
    else groups.push({ owner, tasks: share })
  }
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
        const ids = chunk.map((t) => t.id)
        const asked = ask(peer, owner, ids).then((known) => {
          const seen = new Set([...known.guarded, ...known.taken])
          for (const t of chunk) if (!seen.has(t.id)) unknown.push(t)
          taken.push(...known.taken)
        })
        asks.push(asked.catch(() => undefined))
      }
    }
  }
  await Promise.all(asks)
  return { unknown, taken }
}

/** The tasks of `leftTo` whose successor said it guards them: neither unknown to it nor taken. */
export function guardedElsewhere(leftTo: LeftTo, answer: { unknown: Task[]; taken: string[] }): Task[] {
  const settled = new Set([...answer.taken, ...answer.unknown.map((t) => t.id)])
  return [...leftTo.values()]
    .flatMap((groups) => groups.flatMap((g) => g.tasks))
    .filter((t) => !settled.has(t.id))
}

/**
 * Sweeps in which a custodian leaves a dead owner's task to the successor that says it guards it,
 * before it adopts the task itself: an honest successor adopts at its first sweep, or after
 * {@link ADOPTION_LOOKUP_TRIES} failed lookups; one that answers `guarded` and never adopts (a
 * broken or hostile peer) would hold the task up for good. Two adopters run it twice at worst.
 */
export const SUCCESSOR_PATIENCE_SWEEPS = 15

/** How many sweeps each task has been left to a successor that said it guards it. */
export class SuccessorPatience {
  private readonly sweeps = new Map<string, number>()

  /** Counts one more sweep for each of `left`; returns those left {@link SUCCESSOR_PATIENCE_SWEEPS} times. */
  overdue(left: readonly Task[]): Task[] {
    const due: Task[] = []
    for (const task of left) {
      const n = (this.sweeps.get(task.id) ?? 0) + 1
      this.sweeps.set(task.id, n)
      if (n >= SUCCESSOR_PATIENCE_SWEEPS) due.push(task)
    }
    return due
  }

  /** The task is adopted, taken or settled: its count ends. */
  forget(taskId: string): void {
    this.sweeps.delete(taskId)
  }
}
