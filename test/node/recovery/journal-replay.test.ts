import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { TaskJournal } from '../../../src/node/owner/journal.ts'
import { acceptLine } from '../../../src/node/owner/journal-lines.ts'
import { JournalReplay } from '../../../src/node/recovery/journal-replay.ts'
import { LOOKUP_CHUNK_FIRST } from '../../../src/node/recovery/open-lookups.ts'
import { makeTask } from '../../protocol/fixtures.ts'
import { fakes } from './recovery-fakes.ts'

const peers: string[] = []
beforeAll(async () => {
  for (let i = 0; i < 2; i++) peers.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
})

describe('JournalReplay', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('replays the journal alone: after the detection window, requeues what has no result in the local store', async () => {
    vi.useFakeTimers()
    const [self] = peers
    const journal = [makeTask(400, self), makeTask(401, self), makeTask(402, self)]
    const { adopter, replay, ledger, announce, owned, results } = fakes(self, {
      journal,
      stored: new Set([journal[1].id]),
    })
    await adopter.start()
    expect(ledger.markDone).toHaveBeenCalledWith(journal[1].id)
    expect(owned.size).toBe(0) // waits for a peer to ask the DHT first
    // meanwhile the node tells them queued (its own, journalled), not unknown
    expect(journal.map((t) => replay.replaying(t.id))).toEqual([true, false, true])
    await vi.advanceTimersByTimeAsync(1_000)
    expect([...owned.keys()]).toEqual([journal[0].id, journal[2].id])
    expect(journal.map((t) => replay.replaying(t.id))).toEqual([false, false, false])
    expect([...owned.values()].every((o) => o.as === 'replayed' && (o.floor ?? 0) > 0)).toBe(true)
    expect(announce).toHaveBeenCalledWith([journal[0], journal[2]])
    expect(results.get).not.toHaveBeenCalled() // no peer: nothing to ask
    adopter.stop()
  })

  it('replays the journal once a peer is heard: what the DHT has a result for is marked done, not run again', async () => {
    // while this node was down its successor adopted and ran journal[0]
    const [self, peer] = peers
    const journal = [makeTask(420, self), makeTask(421, self)]
    const { adopter, ledger, announce, owned } = fakes(self, { journal, found: new Set([journal[0].id]) })
    await adopter.start()
    expect(owned.size).toBe(0)
    adopter.onBeacon(peer, {} as never)
    await vi.waitFor(() => expect(announce).toHaveBeenCalledWith([journal[1]]))
    expect([...owned.keys()]).toEqual([journal[1].id])
    expect(ledger.markDone).toHaveBeenCalledWith(journal[0].id)
    adopter.stop()
  })

  it('replays no task a peer says it took over while this node was down: the adopter owns it', async () => {
    const [self, peer] = peers
    const journal = [makeTask(430, self), makeTask(431, self), makeTask(432, self)]
    const asked: string[][] = []
    const takenElsewhere = vi.fn(async (ids: string[]) => {
      asked.push(ids)
      return new Set([journal[1].id])
    })
    const { adopter, ledger, owned } = fakes(self, { journal, takenElsewhere })
    await adopter.start()
    adopter.onBeacon(peer, {} as never)
    await vi.waitFor(() => expect(owned.size).toBe(2))
    expect(asked).toEqual([journal.map((t) => t.id)]) // no result in the DHT for any: all asked about
    expect([...owned.keys()]).toEqual([journal[0].id, journal[2].id])
    expect(ledger.markDone).toHaveBeenCalledWith(journal[1].id)
    adopter.stop()
  })

  it('reads a replayed task found in the local store again from the DHT once a peer is heard', async () => {
    // killed just after it ran the task, this node may hold a record that a later run beat (the
    // task was adopted and run again while it was down): the DHT's selector has the winner
    const [self, peer] = peers
    const journal = [makeTask(410, self), makeTask(411, self)]
    const { adopter, results } = fakes(self, { journal: [journal[1]], stored: new Set([journal[1].id]) })
    await adopter.start()
    expect(results.refresh).not.toHaveBeenCalled() // no peer yet: the DHT has nothing to say
    adopter.onBeacon(peer, {} as never)
    expect(results.refresh.mock.calls).toEqual([[journal[1].id]])
    adopter.onBeacon(peer, {} as never)
    expect(results.refresh).toHaveBeenCalledOnce()
    adopter.stop()
  })

  it('queues a chunk of replayed tasks as soon as its lookups end, while the next are looked up', async () => {
    const [self, peer] = peers
    const journal = Array.from({ length: 300 }, (_, i) => makeTask(1_000 + i, self))
    const later = Promise.withResolvers<void>()
    const firstChunk = new Set(journal.slice(0, LOOKUP_CHUNK_FIRST).map((t) => t.id))
    const { adopter, ledger, announce, owned, results } = fakes(self, {
      journal,
      found: new Set([journal[1].id, journal[200].id]),
      gate: (id) => (firstChunk.has(id) ? Promise.resolve() : later.promise),
    })
    await adopter.start()
    adopter.onBeacon(peer, {} as never)
    await vi.waitFor(() => expect(announce).toHaveBeenCalledOnce())
    // the first 64 were looked up: the 63 without a result are queued, the rest still wait
    expect(announce.mock.calls[0][0].map((t) => t.id)).toEqual(
      journal
        .slice(0, LOOKUP_CHUNK_FIRST)
        .filter((_, i) => i !== 1)
        .map((t) => t.id),
    )
    expect(ledger.markDone.mock.calls).toEqual([[journal[1].id]])
    expect(results.get.mock.calls.length).toBeLessThan(journal.length)
    later.resolve()
    await vi.waitFor(() => expect(owned.size).toBe(298))
    expect(ledger.markDone.mock.calls).toEqual([[journal[1].id], [journal[200].id]])
    // 64, then 128, then the last 108: each chunk's open tasks in one requeue, in journal order
    expect(announce.mock.calls.map(([tasks]) => tasks.length)).toEqual([63, 128, 107])
    expect([...owned.keys()]).toEqual(journal.filter((_, i) => i !== 1 && i !== 200).map((t) => t.id))
    adopter.stop()
  })

  it('tells what the replay of a damaged journal skipped and cut, for the node to log', async () => {
    const [self] = peers
    const dir = await mkdtemp(join(tmpdir(), 'taskmesh-replay-'))
    const path = join(dir, 'tasks.journal')
    const tasks = [makeTask(430, self), makeTask(431, self)]
    const torn = '{"op":"accept","ta'
    await writeFile(path, `${acceptLine(tasks[0]).text}\ngarbage\n${acceptLine(tasks[1]).text}\n${torn}`)
    const journal = new TaskJournal(path)
    const onJournalDamage = vi.fn()
    const replay = new JournalReplay({
      self,
      own: vi.fn(() => true),
      ledger: {
        has: () => false,
        markDone: vi.fn(),
        journalTasks: () => journal.replay(),
      },
      results: { local: async () => undefined, refresh: vi.fn() },
      eachOpen: async () => undefined,
      requeue: async () => undefined,
      waitForPeersMs: 60_000,
      journal,
      onJournalDamage,
    })
    try {
      await replay.start()
      expect(onJournalDamage.mock.calls).toEqual([
        [`journal: skipped 1 damaged line (line 2) of ${path}; its task cannot be replayed`, journal.damage],
        [`journal: cut a torn last line (${torn.length} bytes) of ${path} left by a crash`, journal.damage],
      ])
      expect(journal.damage).toEqual({ path, skipped: 1, skippedLines: [2], tornBytes: torn.length })
    } finally {
      replay.stop()
      await journal.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
