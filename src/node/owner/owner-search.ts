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
export function searchOwner(
  peers: readonly string[],
  ask: (peer: string, signal: AbortSignal) => Promise<TaskState>,
  ms = OWNER_SEARCH_MS,
): Promise<FoundOwner | undefined> {
  if (peers.length === 0) return Promise.resolve(undefined)
  const stop = new AbortController()
  const timer = setTimeout(() => stop.abort(new Error('owner search timed out')), ms)
  return new Promise<FoundOwner | undefined>((resolve) => {
    const asked = peers.slice(0, OWNER_SEARCH_PEERS)
    let pending = asked.length
    const settle = (found: FoundOwner | undefined) => {
      resolve(found) // first: the abort below settles with undefined otherwise
      clearTimeout(timer)
      stop.abort()
    }
    stop.signal.addEventListener('abort', () => resolve(undefined), { once: true })
    for (const peer of asked) {
      ask(peer, stop.signal).then(
        (state) => {
          if (stop.signal.aborted) return
          const { owner } = state
          if (owner !== undefined) return settle(owner === peer ? { owner, state } : { owner })
          if (--pending === 0) settle(undefined)
        },
        () => {
          if (!stop.signal.aborted && --pending === 0) settle(undefined)
        },
      )
    }
  })
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
