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
 * What the peers asked about a task said once its named owner could not be reached (see
 * {@link surveyTask}).
 */
export interface TaskSurvey {
  /**
   * A node that owns the task now — it took the task over from the unreachable owner — with its own
   * answer when it was among the peers asked (another peer may name it: one of its custodians).
   */
  taker?: { owner: string; state?: TaskState }
  /**
   * The peers that know the task under the unreachable owner, with their answers: lease holders
   * (`queued` or `running` there) first, then custodians (`unknown`, the owner named).
   */
  holders: Array<{ peer: string; state: TaskState }>
}

/**
 * Asks `peers` at once how a task stands after its owner `down` could not be reached (each
 * answers from what it knows, as for {@link searchOwner}). Settles as soon as an answer names
 * another owner — a node that took the task over (the successor of the dead owner that adopted
 * it) — else once every peer answered or `ms` passed, with the peers that know the task under
 * `down`: a lease holder's answer tells how the task stands while nobody owns it, and the lease
 * holder may take it over itself (`takeOverToCancel`).
 */
export async function surveyTask(
  peers: readonly string[],
  ask: (peer: string, signal: AbortSignal) => Promise<TaskState>,
  down: string,
  ms = OWNER_SEARCH_MS,
): Promise<TaskSurvey> {
  const holders: TaskSurvey['holders'] = []
  const stop = new AbortController()
  const timer = setTimeout(() => stop.abort(new Error('task survey timed out')), ms)
  const found = Promise.withResolvers<TaskSurvey['taker']>()
  stop.signal.addEventListener('abort', () => found.resolve(undefined))
  const asked = peers.slice(0, OWNER_SEARCH_PEERS).map(async (peer) => {
    const state = await ask(peer, stop.signal).catch(() => undefined)
    if (state?.owner === undefined || stop.signal.aborted) return
    if (state.owner === down) holders.push({ peer, state })
    else found.resolve(state.owner === peer ? { owner: peer, state } : { owner: state.owner })
  })
  void Promise.all(asked).then(() => found.resolve(undefined))
  try {
    const taker = await found.promise
    const byKnowledge = (h: TaskSurvey['holders'][number]) => (h.state.state === 'unknown' ? 1 : 0)
    const sorted = holders.sort((a, b) => byKnowledge(a) - byKnowledge(b))
    return taker === undefined ? { holders: sorted } : { taker, holders: sorted }
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
  return bounded(search, limit)
}

/** {@link surveyTask} with at most `limit` surveys under way, as {@link boundedOwnerSearch}. */
export function boundedSurvey(
  survey: (taskId: string, down: string) => Promise<TaskSurvey>,
  limit = MAX_OWNER_SEARCHES,
): (taskId: string, down: string) => Promise<TaskSurvey | undefined> {
  return bounded(survey, limit)
}

function bounded<A extends unknown[], T>(
  search: (...args: A) => Promise<T | undefined>,
  limit: number,
): (...args: A) => Promise<T | undefined> {
  let running = 0
  return async (...args) => {
    if (running >= limit) return undefined
    running++
    try {
      return await search(...args)
    } finally {
      running--
    }
  }
}
