import { describe, expect, it } from 'vitest'
import type { ResultStore } from '../../../src/node/results/result-store.ts'
import { NoticeInbox } from '../../../src/node/wire/notice-inbox.ts'

/** A result store that holds nothing in memory and `stored` epochs in its local store. */
function storeWith(stored: Record<string, number>) {
  const calls: string[] = []
  const results = {
    cached: () => undefined,
    isAwaited: () => false,
    storedEpoch: async (id: string) => {
      calls.push(`storedEpoch ${id}`)
      return stored[id]
    },
    local: async (id: string) => {
      calls.push(`local ${id}`) // would open the copy and check its signature
      return undefined
    },
    get: async (id: string, opts: { skipCache?: boolean }) => {
      calls.push(`get ${id} ${opts.skipCache}`)
      return undefined
    },
  }
  return { results: results as unknown as ResultStore, calls }
}

/** Resolves once `calls` has `n` entries (the inbox settles notices in the background). */
async function settled(calls: string[], n: number): Promise<void> {
  while (calls.length < n) await new Promise((r) => setImmediate(r))
}

describe('NoticeInbox: a notice of a later run', () => {
  it('fetches the record only when the copy kept here is of an earlier run, reading its epoch unchecked', async () => {
    const { results, calls } = storeWith({ kept1: 1, kept2: 2 })
    // the executor cannot be read from: the DHT is asked
    const readFrom = async () => {
      throw new Error('no protocol to dial')
    }
    const inbox = new NoticeInbox({ readFrom, results, onResultStored: () => undefined })
    inbox.onResultNotice('executor', {
      results: [
        { taskId: 'kept1', epoch: 2 },
        { taskId: 'kept2', epoch: 2 },
        { taskId: 'none', epoch: 3 },
        { taskId: 'first', epoch: 1 },
      ],
    } as Parameters<NoticeInbox['onResultNotice']>[1])
    await settled(calls, 4)
    expect(calls.sort()).toEqual([
      'get kept1 true',
      'storedEpoch kept1',
      'storedEpoch kept2',
      'storedEpoch none',
    ])
  })

  it('takes a relayed entry (another node named its executor) for a record to read from the relay, never for the completion', async () => {
    const { results, calls } = storeWith({ kept: 1 })
    const read: string[] = []
    const readFrom = async (peer: string, id: string) => {
      read.push(`${peer} ${id}`)
      return undefined
    }
    const stored: string[] = []
    const inbox = new NoticeInbox({
      readFrom,
      results,
      onResultStored: (from, id, epoch) => stored.push(`${from} ${id}@${epoch}`),
      expectsCompletion: (from) => from === 'holder', // the relay itself holds a lease of each
    })
    inbox.onResultNotice('holder', {
      results: [
        { taskId: 'kept', epoch: 2, executor: 'maker' },
        { taskId: 'own', epoch: 2, executor: 'holder' }, // naming the signer: its own word
      ],
    } as Parameters<NoticeInbox['onResultNotice']>[1])
    await settled(calls, 2)
    await settled(read, 1)
    expect(read).toEqual(['holder kept']) // the copy kept here is of an earlier run
    expect(stored).toEqual([]) // 'own' waits for its completion; 'kept' is no one's completion
  })
})
