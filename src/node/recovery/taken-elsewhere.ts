import { MAX_LEASES_PER_MESSAGE } from '../../protocol/constants.ts'
import type { AskKnown } from './successor-check.ts'

/** Peers a restarted owner asks at most whether they took its tasks over. */
export const TAKEN_ASK_PEERS = 16

/**
 * The ids of `owner`'s tasks that one of `peers` says it has taken (adopted while `owner` was
 * down, or finished): a custody `query` to each, a chunk of ids at a time. A restarted owner
 * replays none of them — the adopter owns them now, and running them here too would run them
 * twice and, under the replay's higher epoch, replace a record already read. A peer that cannot
 * be asked says nothing (its tasks are replayed, as before).
 */
export async function takenElsewhere(
  peers: readonly string[],
  ask: AskKnown,
  owner: string,
  ids: readonly string[],
): Promise<Set<string>> {
  const taken = new Set<string>()
  const asks: Promise<void>[] = []
  for (const peer of peers.slice(0, TAKEN_ASK_PEERS)) {
    for (let i = 0; i < ids.length; i += MAX_LEASES_PER_MESSAGE) {
      const chunk = ids.slice(i, i + MAX_LEASES_PER_MESSAGE)
      asks.push(
        ask(peer, owner, chunk).then(
          (known) => {
            for (const id of known.taken) taken.add(id)
          },
          () => undefined,
        ),
      )
    }
  }
  await Promise.all(asks)
  return taken
}
