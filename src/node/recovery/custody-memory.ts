/** What {@link largestOwner} weighs of an owner's guarded tasks. */
export interface OwnerLoad {
  tasks: ReadonlyMap<string, unknown>
  /** The bytes its tasks came in. */
  bytes: number
}

/**
 * The owner whose oldest task a custodian over its bounds forgets first: the one with the most
 * tasks (`byBytes`: the most bytes) — so one owner's surplus, a member flooding `hold`s, never
 * pushes another owner's tasks out.
 */
export function largestOwner<G extends OwnerLoad>(owners: Iterable<G>, byBytes: boolean): G | undefined {
  const weight = (g: G) => (byBytes ? g.bytes : g.tasks.size)
  let largest: G | undefined
  for (const g of owners) if (largest === undefined || weight(g) > weight(largest)) largest = g
  return largest
}
