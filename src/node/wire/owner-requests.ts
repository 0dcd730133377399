import type { PeerId } from '@libp2p/interface'
import type { TaskControlOptions } from '../owner/cancellation.ts'
import { boundedOwnerSearch, OWNER_SEARCH_PEERS, searchOwner } from '../owner/owner-search.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'
import { requestCancelFrom, requestStateFrom } from './submit-service.ts'

/**
 * What cancellation and task state ask of other nodes, over the submit protocol: a cancel sent
 * on to the task's owner, its state asked of the owner, and the owner's name asked of `candidates`
 * (the connected full nodes, at most {@link OWNER_SEARCH_PEERS}) when this node knows nothing of
 * the task — at most `MAX_OWNER_SEARCHES` such searches at once.
 */
export function ownerRequests(
  libp2p: MeshLibp2p,
  candidates: (count: number) => Promise<PeerId[]>,
): Pick<TaskControlOptions, 'forwardCancel' | 'askState' | 'searchOwner'> {
  return {
    forwardCancel: (owner, id) => requestCancelFrom(libp2p, owner, id),
    askState: (owner, id) => requestStateFrom(libp2p, owner, id),
    searchOwner: boundedOwnerSearch(async (id) =>
      searchOwner(
        (await candidates(OWNER_SEARCH_PEERS)).map((p) => p.toString()),
        (peer, signal) => requestStateFrom(libp2p, peer, id, signal),
      ),
    ),
  }
}
