import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { makeTask } from '../../protocol/fixtures.ts'
import { fakes } from './recovery-fakes.ts'

const peers: string[] = []
beforeAll(async () => {
  for (let i = 0; i < 2; i++) peers.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
})

/**
 * An owner restarted faster than its custodians judge it dead: its custodian decided to adopt
 * its tasks and is looking their results up when the owner, back, asks which it has taken (the
 * replay's custody `query`) or greets it with `forget`. Whatever the custodian answers "not
 * taken" the owner replays, so the custodian must adopt none of it — else each runs twice.
 */
async function adoptionUnderWay(back: (made: ReturnType<typeof fakes>, ids: string[]) => unknown) {
  vi.useFakeTimers()
  const [self, owner] = peers
  const tasks = Array.from({ length: 8 }, (_, n) => makeTask(7_000 + n, owner))
  const release = Promise.withResolvers<void>()
  const made = fakes(self, { gate: () => release.promise })
  const { adopter, results, disconnect } = made
  await adopter.start()
  adopter.onBeacon(owner, {} as never)
  adopter.onHold(owner, tasks, [self])
  disconnect(owner)
  await vi.advanceTimersByTimeAsync(500)
  // the owner is judged dead and the adoption's lookups are out
  expect(results.get).toHaveBeenCalled()
  const answer = back(
    made,
    tasks.map((t) => t.id),
  )
  release.resolve()
  await vi.advanceTimersByTimeAsync(2_000)
  adopter.stop()
  return { ...made, answer, tasks }
}

describe('A custodian whose owner is back while it adopts', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('adopts none of the tasks the owner asked about and it had not taken', async () => {
    const { owned, announce, answer, tasks, adopter } = await adoptionUnderWay(({ adopter }, ids) =>
      adopter.onQuery(peers[1], peers[1], ids),
    )
    expect(answer).toMatchObject({ type: 'known', taken: [], guarded: tasks.map((t) => t.id) })
    expect(owned.size).toBe(0)
    expect(announce).not.toHaveBeenCalled()
    expect(adopter.remembered).toBe(0)
  })

  it('adopts none of them after the owner greets it with forget', async () => {
    const { owned, announce } = await adoptionUnderWay(({ adopter }) => adopter.onForget(peers[1]))
    expect(owned.size).toBe(0)
    expect(announce).not.toHaveBeenCalled()
  })

  it('still adopts when another custodian, not the owner, asks about them', async () => {
    const { owned, tasks } = await adoptionUnderWay(({ adopter }, ids) =>
      adopter.onQuery(peers[0], peers[1], ids),
    )
    expect(owned.size).toBe(tasks.length)
  })
})
