import { describe, expect, it } from 'vitest'
import type { TaskState } from '../../../src/node/owner/cancellation.ts'
import {
  boundedOwnerSearch,
  boundedSurvey,
  OWNER_SEARCH_PEERS,
  searchOwner,
  surveyTask,
} from '../../../src/node/owner/owner-search.ts'

/** An `ask` answering from a table (a peer absent from it never answers until aborted). */
function asking(answers: Record<string, TaskState | Error>) {
  const asked: string[] = []
  const aborted: string[] = []
  const ask = (peer: string, signal: AbortSignal) => {
    asked.push(peer)
    const answer = answers[peer]
    return new Promise<TaskState>((resolve, reject) => {
      if (answer instanceof Error) queueMicrotask(() => reject(answer))
      else if (answer !== undefined) queueMicrotask(() => resolve(answer))
      else
        signal.addEventListener('abort', () => {
          aborted.push(peer)
          reject(new Error('aborted'))
        })
    })
  }
  return { ask, asked, aborted }
}

describe('searchOwner', () => {
  it("takes the owner's own answer with its state, and stops asking the others", async () => {
    const { ask, aborted } = asking({
      a: { state: 'unknown' },
      o: { state: 'leased', owner: 'o' },
    })
    await expect(searchOwner(['a', 'o', 'silent'], ask)).resolves.toEqual({
      owner: 'o',
      state: { state: 'leased', owner: 'o' },
    })
    expect(aborted).toEqual(['silent'])
  })

  it('takes the owner another peer names (a custodian, a thief) without a state', async () => {
    const { ask } = asking({ c: { state: 'unknown', owner: 'o' }, x: new Error('refused') })
    await expect(searchOwner(['x', 'c'], ask)).resolves.toEqual({ owner: 'o' })
  })

  it('settles with nothing when every peer answered without an owner or failed', async () => {
    const { ask } = asking({ a: { state: 'unknown' }, b: new Error('no route') })
    await expect(searchOwner(['a', 'b'], ask)).resolves.toBeUndefined()
    await expect(searchOwner([], ask)).resolves.toBeUndefined()
  })

  it('settles with nothing once its time is up, aborting what is still out', async () => {
    const { ask, aborted } = asking({ a: { state: 'unknown' } })
    await expect(searchOwner(['a', 'silent'], ask, 20)).resolves.toBeUndefined()
    expect(aborted).toEqual(['silent'])
  })

  it(`asks at most ${OWNER_SEARCH_PEERS} peers, the first ones given`, async () => {
    const peers = Array.from({ length: OWNER_SEARCH_PEERS + 5 }, (_, i) => `p${i}`)
    const { ask, asked } = asking(Object.fromEntries(peers.map((p) => [p, { state: 'unknown' }])))
    await expect(searchOwner(peers, ask)).resolves.toBeUndefined()
    expect(asked).toEqual(peers.slice(0, OWNER_SEARCH_PEERS))
  })
})

describe('boundedOwnerSearch', () => {
  it('runs at most `limit` searches at once; one beyond them finds nothing, and a slot freed is used again', async () => {
    const releases: Array<() => void> = []
    let started = 0
    const search = boundedOwnerSearch((id) => {
      started++
      return new Promise((resolve) => releases.push(() => resolve({ owner: `owner-of-${id}` })))
    }, 2)
    const first = search('a')
    const second = search('b')
    await expect(search('c')).resolves.toBeUndefined()
    expect(started).toBe(2)
    releases[0]()
    await expect(first).resolves.toEqual({ owner: 'owner-of-a' })
    const fourth = search('d')
    expect(started).toBe(3)
    releases[1]()
    releases[2]()
    await expect(second).resolves.toEqual({ owner: 'owner-of-b' })
    await expect(fourth).resolves.toEqual({ owner: 'owner-of-d' })
  })
})

describe('surveyTask (the owner `o` cannot be reached)', () => {
  it('settles at once with a node that took the task over, its own answer with it', async () => {
    const { ask, aborted } = asking({
      x: { state: 'running', reason: 'held under a lease from o', owner: 'o' },
      s: { state: 'queued', owner: 's' },
    })
    await expect(surveyTask(['x', 's', 'silent'], ask, 'o')).resolves.toMatchObject({
      taker: { owner: 's', state: { state: 'queued', owner: 's' } },
    })
    expect(aborted).toEqual(['silent'])
  })

  it("names a taker another peer names (the taker's custodian), without a state", async () => {
    const { ask } = asking({ c: { state: 'unknown', owner: 's' } })
    await expect(surveyTask(['c'], ask, 'o')).resolves.toEqual({ taker: { owner: 's' }, holders: [] })
  })

  it('without a taker, lists the peers that know the task under the dead owner, lease holders first', async () => {
    const running = { state: 'running' as const, reason: 'held under a lease from o', owner: 'o' }
    const { ask } = asking({
      c: { state: 'unknown', owner: 'o' },
      x: running,
      z: { state: 'unknown' },
      f: new Error('refused'),
    })
    await expect(surveyTask(['c', 'z', 'f', 'x'], ask, 'o')).resolves.toEqual({
      holders: [
        { peer: 'x', state: running },
        { peer: 'c', state: { state: 'unknown', owner: 'o' } },
      ],
    })
  })

  it('settles with what it heard once its time is up, aborting what is still out', async () => {
    const { ask, aborted } = asking({ c: { state: 'unknown', owner: 'o' } })
    await expect(surveyTask(['c', 'silent'], ask, 'o', 20)).resolves.toEqual({
      holders: [{ peer: 'c', state: { state: 'unknown', owner: 'o' } }],
    })
    expect(aborted).toEqual(['silent'])
  })

  it('runs at most `limit` surveys at once (boundedSurvey)', async () => {
    const release = Promise.withResolvers<void>()
    const survey = boundedSurvey(async (id, down) => {
      await release.promise
      return { taker: { owner: `${down}-successor-of-${id}` }, holders: [] }
    }, 1)
    const first = survey('a', 'o')
    await expect(survey('b', 'o')).resolves.toBeUndefined()
    release.resolve()
    await expect(first).resolves.toEqual({ taker: { owner: 'o-successor-of-a' }, holders: [] })
  })
})
