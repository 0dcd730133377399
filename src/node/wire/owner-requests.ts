import type { PeerId } from '@libp2p/interface'
import type { TaskControlOptions } from '../owner/cancellation.ts'
import {
  boundedOwnerSearch,
  boundedSurvey,
  OWNER_SEARCH_PEERS,
  searchOwner,
  surveyTask,
} from '../owner/owner-search.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'
import { requestCancelFrom, requestStateFrom } from './submit-service.ts'

/**
 * What cancellation and task state ask of other nodes, over the submit protocol: a cancel sent
 * on to the task's owner, its state asked of the owner, and the owner's name asked of `candidates`
 * (the connected full nodes, at most {@link OWNER_SEARCH_PEERS}) when this node knows nothing of
 * the task — or, when the owner cannot be reached, who took the task over — at most
 * `MAX_OWNER_SEARCHES` searches of each kind at once.
 */
export function ownerRequests(
  libp2p: MeshLibp2p,
  candidates: (count: number) => Promise<PeerId[]>,
): Pick<TaskControlOptions, 'forwardCancel' | 'askState' | 'searchOwner' | 'surveyTask'> {
  const peers = async () => (await candidates(OWNER_SEARCH_PEERS)).map((p) => p.toString())
  return {
    forwardCancel: (owner, id) => requestCancelFrom(libp2p, owner, id),
    askState: (owner, id) => requestStateFrom(libp2p, owner, id),
    searchOwner: boundedOwnerSearch(async (id) =>
      searchOwner(await peers(), (peer, signal) => requestStateFrom(libp2p, peer, id, signal)),
    ),
    surveyTask: boundedSurvey(async (id, down) =>
      surveyTask(await peers(), (peer, signal) => requestStateFrom(libp2p, peer, id, signal), down),
    ),
  }
}
