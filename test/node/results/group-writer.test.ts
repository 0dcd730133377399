import { MemoryDatastore } from 'datastore-core'
import { type Batch, Key } from 'interface-datastore'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { GroupWriter } from '../../../src/node/results/group-writer.ts'

const bytes = (s: string) => new TextEncoder().encode(s)

/** A memory datastore whose batches are recorded (the keys each held) and may be held open. */
function recordingStore() {
  const store = new MemoryDatastore()
  const batches: string[][] = []
  let gate: PromiseWithResolvers<void> | undefined
  const batch = (): Batch => {
    const inner = store.batch()
    const keys: string[] = []
    return {
      put: (k, v) => {
        keys.push(`put ${k}`)
        inner.put(k, v)
      },
      delete: (k) => {
        keys.push(`del ${k}`)
        inner.delete(k)
      },
      commit: async () => {
        batches.push(keys)
        await gate?.promise
        await inner.commit()
      },
    }
  }
  return {
    store,
    batches,
    batch,
    /** Holds every commit from now until `release`. */
    hold: () => {
      gate = Promise.withResolvers<void>()
      return () => gate?.resolve()
    },
  }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('GroupWriter', () => {
  it('commits the writes of one turn in one batch, in the order asked, on the next turn', async () => {
    const r = recordingStore()
    const writer = new GroupWriter(r.batch, 8)
    const done = [
      writer.put(new Key('/a'), bytes('1')),
      writer.delete(new Key('/b')),
      writer.put(new Key('/c'), bytes('3')),
    ]
    expect(r.batches).toEqual([]) // nothing is written in the turn that asks
    await Promise.all(done)
    expect(r.batches).toEqual([['put /a', 'del /b', 'put /c']])
    expect(await r.store.get(new Key('/c'))).toEqual(bytes('3'))
  })

  it('a busy writer commits at most once per window: later writes wait and go together', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
    const r = recordingStore()
    const writer = new GroupWriter(r.batch, 8)
    await writer.put(new Key('/first'), bytes('1')) // after a quiet spell: at once
    let landed = 0
    const later: Promise<void>[] = []
    for (const k of ['/x', '/y', '/z']) {
      later.push(writer.put(new Key(k), bytes(k)).then(() => void landed++))
      await vi.advanceTimersByTimeAsync(1) // asked 0, 1 and 2 ms after the first commit
    }
    await vi.advanceTimersByTimeAsync(4)
    expect(landed).toBe(0) // 7 ms after the first commit: still in its window
    expect(r.batches).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    await Promise.all(later)
    expect(r.batches).toEqual([['put /first'], ['put /x', 'put /y', 'put /z']])
  })

  it('never commits while its last batch is being committed', async () => {
    const r = recordingStore()
    const writer = new GroupWriter(r.batch, 0)
    const release = r.hold()
    const first = writer.put(new Key('/a'), bytes('1'))
    await vi.waitFor(() => expect(r.batches).toHaveLength(1))
    const second = writer.put(new Key('/b'), bytes('2'))
    const third = writer.put(new Key('/c'), bytes('3'))
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    expect(r.batches).toHaveLength(1) // the first is in flight: the others wait for it
    release()
    await Promise.all([first, second, third])
    expect(r.batches).toEqual([['put /a'], ['put /b', 'put /c']])
  })

  it('a failed batch rejects its writes only; the next batch is written', async () => {
    const r = recordingStore()
    let fail = true
    const writer = new GroupWriter(() => {
      const b = r.batch()
      return {
        ...b,
        commit: async () => {
          if (fail) throw new Error('disk full')
          await b.commit()
        },
      }
    }, 0)
    const lost = writer.put(new Key('/a'), bytes('1'))
    await expect(lost).rejects.toThrow('disk full')
    fail = false
    await writer.put(new Key('/b'), bytes('2'))
    expect(await r.store.has(new Key('/a'))).toBe(false)
    expect(await r.store.get(new Key('/b'))).toEqual(bytes('2'))
  })

  it('flush commits what waits for its window at once and resolves when all is written', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
    const r = recordingStore()
    const writer = new GroupWriter(r.batch, 60_000)
    await writer.put(new Key('/a'), bytes('1'))
    const waiting = writer.put(new Key('/b'), bytes('2')) // a minute's window ahead
    await vi.advanceTimersByTimeAsync(10)
    expect(r.batches).toHaveLength(1)
    await writer.flush()
    await waiting
    expect(r.batches).toEqual([['put /a'], ['put /b']])
    expect(vi.getTimerCount()).toBe(0) // the window's timer is gone
  })

  it('knows the values its batch is writing while it commits', async () => {
    const r = recordingStore()
    const writer = new GroupWriter(r.batch, 0)
    const release = r.hold()
    const value = bytes('v')
    const done = writer.put(new Key('/a'), value)
    await vi.waitFor(() => expect(r.batches).toHaveLength(1))
    expect(writer.isCommitting(value)).toBe(true)
    release()
    await done
    expect(writer.isCommitting(value)).toBe(false)
  })

  it('a value put later is made as its batch is built, from what was asked until then', async () => {
    const r = recordingStore()
    const writer = new GroupWriter(r.batch, 0)
    const asked: string[] = []
    const made: string[] = []
    const later = () => {
      made.push(asked.join(','))
      return asked.length === 0 ? undefined : bytes(asked.join(','))
    }
    const first = writer.putLater(new Key('/list'), later)
    asked.push('a')
    const put = writer.put(new Key('/a'), bytes('1'))
    asked.push('b') // asked after the put, before the batch: still in the value
    await Promise.all([first, put])
    expect(r.batches).toEqual([['put /list', 'put /a']])
    expect(made).toEqual(['a,b'])
    expect(await r.store.get(new Key('/list'))).toEqual(bytes('a,b'))
    // a later value that is nothing is not put; the batch's other writes are
    asked.length = 0
    await Promise.all([writer.putLater(new Key('/none'), later), writer.delete(new Key('/a'))])
    expect(r.batches[1]).toEqual(['del /a'])
    expect(await r.store.has(new Key('/none'))).toBe(false)
  })
})
