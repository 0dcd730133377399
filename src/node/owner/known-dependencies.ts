import { isTaskId } from '../../task/task-id.ts'

/** How long a submission waits for the DHT to say whether a dependency has a record, ms. */
export const DEPENDENCY_LOOKUP_MS = 2_000
/** Dependencies of one submission looked up at most (beyond, they must be known here). */
export const MAX_DEPENDENCY_LOOKUPS = 256

/** What {@link recordedDependencies} reads: this node's store, then the DHT. */
export interface DependencyRecords {
  /** True when the id is known here without a read (owned, waiting, or its record cached). */
  knows(id: string): boolean
  /** The record in this node's own store, if any. */
  local(id: string): Promise<unknown | undefined>
  /** The record as the DHT has it, looked up until `signal` aborts. */
  get(id: string, opts: { signal: AbortSignal }): Promise<unknown | undefined>
}

/**
 * The task ids a submission depends on that are not known here but have a result record — in
 * this node's store (a task that ended here long ago, its record no longer cached) or in the DHT
 * (one that ended at another node): such a dependency is met already, so the submission may name
 * it. Only items that carry `dependsOn` are read; a submission without dependencies reads nothing.
 */
export async function recordedDependencies(
  items: unknown[],
  records: DependencyRecords,
): Promise<Set<string>> {
  const wanted = new Set<string>()
  for (const item of items) {
    const deps = (item as { dependsOn?: unknown } | null)?.dependsOn
    if (!Array.isArray(deps)) continue
    for (const dep of deps) {
      if (typeof dep === 'string' && isTaskId(dep) && !records.knows(dep)) wanted.add(dep)
      if (wanted.size >= MAX_DEPENDENCY_LOOKUPS) break
    }
  }
  const found = new Set<string>()
  if (wanted.size === 0) return found
  const signal = AbortSignal.timeout(DEPENDENCY_LOOKUP_MS)
  await Promise.all(
    [...wanted].map(async (id) => {
      const record =
        (await records.local(id).catch(() => undefined)) ??
        (await records.get(id, { signal }).catch(() => undefined))
      if (record !== undefined) found.add(id)
    }),
  )
  return found
}
