import { InvalidTaskError } from './errors.ts'

/** One task of a submitted graph as the ordering sees it. */
export interface GraphItem {
  /** The submitter's name for the task within the submission. */
  key: string
  /** Keys of tasks in the same submission, or ids of tasks that already exist. */
  dependsOn: string[]
}

/**
 * Orders a submitted graph so every task comes after the tasks it depends on (Kahn's
 * algorithm, keeping submission order among ready tasks). References are keys within the
 * submission or ids for which `isKnownId` is true.
 * @returns indices into `items`, dependencies first.
 * @throws InvalidTaskError naming the task and field for a duplicate key, a self-reference, a
 *   dangling reference, or a cycle (with the keys on it). Nothing is changed.
 */
export function orderGraph(items: GraphItem[], isKnownId: (ref: string) => boolean): number[] {
  const indexOf = new Map<string, number>()
  items.forEach((item, i) => {
    if (indexOf.has(item.key)) throw new InvalidTaskError(`duplicate key "${item.key}"`, `tasks[${i}].key`)
    indexOf.set(item.key, i)
  })
  const dependents: number[][] = items.map(() => [])
  const missing = items.map(() => 0)
  items.forEach((item, i) => {
    for (const [j, ref] of item.dependsOn.entries()) {
      const dep = indexOf.get(ref)
      if (dep === i)
        throw new InvalidTaskError(`task "${item.key}" depends on itself`, `tasks[${i}].dependsOn[${j}]`)
      if (dep !== undefined) {
        dependents[dep].push(i)
        missing[i]++
      } else if (!isKnownId(ref)) {
        throw new InvalidTaskError(
          `"${ref}" is neither a key in this submission nor a known task id (owned here, or with a result record; a task still pending at another node is known at its owner only: submit there)`,
          `tasks[${i}].dependsOn[${j}]`,
        )
      }
    }
  })
  const order: number[] = []
  const ready = items.map((_, i) => i).filter((i) => missing[i] === 0)
  for (let head = 0; head < ready.length; head++) {
    const i = ready[head]
    order.push(i)
    for (const d of dependents[i]) if (--missing[d] === 0) ready.push(d)
  }
  if (order.length < items.length) {
    const cycle = findCycle(items, indexOf, missing)
    throw new InvalidTaskError(
      `dependency cycle: ${cycle.map((i) => items[i].key).join(' → ')}`,
      `tasks[${cycle[0]}].dependsOn`,
    )
  }
  return order
}

/** Walks unresolved dependencies from a task left on a cycle until a task repeats. */
function findCycle(items: GraphItem[], indexOf: Map<string, number>, missing: number[]): number[] {
  const stuck = (i: number) => missing[i] > 0
  let at = missing.findIndex((m) => m > 0)
  const seen = new Map<number, number>()
  const path: number[] = []
  while (!seen.has(at)) {
    seen.set(at, path.length)
    path.push(at)
    const next = items[at].dependsOn.map((ref) => indexOf.get(ref)).find((d) => d !== undefined && stuck(d))
    if (next === undefined) break
    at = next
  }
  const start = seen.get(at) ?? 0
  return [...path.slice(start), at]
}
