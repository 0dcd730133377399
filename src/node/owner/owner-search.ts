import type { TaskState } from './cancellation.ts'

/** Peers one search asks at most (the connected full nodes closest to this node's id first). */
export const OWNER_SEARCH_PEERS = 64
/** How long a search waits for the peers' answers, ms. */
export const OWNER_SEARCH_MS = 2_000
/**
 * Searches one node runs at once; a question beyond them is answered from what the node knows.
 * Each search is a request to every connected full node: without a bound, a client asking about
 * ids nobody knows would have the node send that many requests to each peer.
 */
export const MAX_OWNER_SEARCHES = 16

/** Who owns a task, as a peer told; with the owner's own answer when the owner was among those asked. */
export interface FoundOwner {
  owner: string
  /** How the task stands at its owner (present when the owner itself answered). */
  state?: TaskState
}

/**
 * Asks `peers` at once how a task stands (each answers from what it knows: its owner, a thief
 * holding its lease, a custodian guarding it, a node with its record) and settles with the owner
 * the first answer names — with the owner's own state when that answer came from the owner — or
 * undefined when every peer answered without one, failed, or `ms` passed. The other requests are
 * aborted once settled.
 *
 * A node learns of a task it does not own only as its thief, its custodian, or from its record:
 * in a mesh larger than an owner and its custodians, most nodes know nothing of a queued task, and
 * a cancel or a state question reaching one of them needs the owner's name from a peer.
 */
export async function searchOwner(
  peers: readonly string[],
  ask: (peer: string, signal: AbortSignal) => Promise<TaskState>,
  ms = OWNER_SEARCH_MS,
): Promise<FoundOwner | undefined> {
  const stop = new AbortController()
  const timer = setTimeout(() => stop.abort(new Error('owner search timed out')), ms)
  const named = peers.slice(0, OWNER_SEARCH_PEERS).map(async (peer): Promise<FoundOwner> => {
    const state = await ask(peer, stop.signal)
    if (state.owner === undefined) throw new Error(`${peer} knows no owner`)
    return state.owner === peer ? { owner: peer, state } : { owner: state.owner }
  })
  // the deadline settles the search even if an ask does not heed its signal
  const deadline = new Promise<never>((_, reject) => stop.signal.addEventListener('abort', reject))
  try {
    return await Promise.race([Promise.any(named), deadline])
  } catch {
    return undefined // every peer answered without an owner or failed, or the time ran out
  } finally {
    clearTimeout(timer)
    stop.abort() // the requests still out are abandoned
  }
}

/**
 * {@link searchOwner} with at most `limit` searches under way: one asked beyond them finds
 * nothing (the node answers from what it knows itself).
 */
export function boundedOwnerSearch(
  search: (taskId: string) => Promise<FoundOwner | undefined>,
  limit = MAX_OWNER_SEARCHES,
): (taskId: string) => Promise<FoundOwner | undefined> {
  let running = 0
  return async (taskId) => {
    if (running >= limit) return undefined
    running++
    try {
      return await search(taskId)
    } finally {
      running--
    }
  }
}
