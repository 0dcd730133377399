import { mkdtemp, rm, stat, truncate } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { afterEach, describe, expect, it } from 'vitest'
import {
  openNodeDatastore,
  RECORD_LOG_FILE,
  type ValueLogDatastore,
} from '../../../src/node/results/value-log.ts'

const dirs: string[] = []
const open: ValueLogDatastore[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close().catch(() => undefined)))
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-value-log-'))
  dirs.push(dir)
  return dir
}

async function opened(dir: string): Promise<ValueLogDatastore> {
  const store = await openNodeDatastore(dir)
  open.push(store)
  return store
}

/** What LevelDB itself holds under `key` (the store closed first). */
async function levelEntry(dir: string, key: Key): Promise<Uint8Array> {
  const level = new LevelDatastore(join(dir, 'datastore'))
  await level.open()
  try {
    return await level.get(key)
  } finally {
    await level.close()
  }
}

/** Every item of `items`. */
async function all<T>(items: AsyncIterable<T> | Iterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of items) out.push(item)
  return out
}

const record = (n: number) => new Key(`/dht/record/key${n}`)
const bytes = (n: number, length = 900) => new Uint8Array(length).fill(n)

describe('ValueLogDatastore', () => {
  it("keeps a record's value in the log and 12 bytes in LevelDB; other keys as they are", async () => {
    const dir = await dataDir()
    const store = await opened(dir)
    await store.put(record(1), bytes(1))
    await store.put(new Key('/peers/p1'), bytes(2, 40))
    expect([...(await store.get(record(1)))]).toEqual([...bytes(1)])
    expect([...(await store.get(new Key('/peers/p1')))]).toEqual([...bytes(2, 40)])
    expect(await store.has(record(1))).toBe(true)
    expect(await store.has(record(2))).toBe(false)
    await store.close()
    open.splice(0)
    expect((await levelEntry(dir, record(1))).byteLength).toBe(12)
    expect([...(await levelEntry(dir, new Key('/peers/p1')))]).toEqual([...bytes(2, 40)])
    expect((await stat(join(dir, RECORD_LOG_FILE))).size).toBe(900)
  })

  it('commits a batch in order: one append for its values, then every operation', async () => {
    const store = await opened(await dataDir())
    await store.put(record(3), bytes(3))
    const batch = store.batch()
    batch.put(record(1), bytes(1, 100))
    batch.put(new Key('/other/a'), bytes(9, 10))
    batch.delete(record(1)) // a put then a delete of the same key: gone
    batch.delete(record(3))
    batch.put(record(3), bytes(4, 50)) // a delete then a put: there
    batch.put(record(2), bytes(2, 70))
    await batch.commit()
    expect(await store.has(record(1))).toBe(false)
    expect([...(await store.get(record(3)))]).toEqual([...bytes(4, 50)])
    expect([...(await store.get(record(2)))]).toEqual([...bytes(2, 70)])
    expect([...(await store.get(new Key('/other/a')))]).toEqual([...bytes(9, 10)])
  })

  it('appends a batch of more values than one system call takes (1,500), each read back', async () => {
    const store = await opened(await dataDir())
    const batch = store.batch()
    for (let i = 0; i < 1500; i++) batch.put(record(i), bytes(i % 251, 10 + (i % 7)))
    await batch.commit()
    for (const i of [0, 1023, 1024, 1499]) {
      expect([...(await store.get(record(i)))]).toEqual([...bytes(i % 251, 10 + (i % 7))])
    }
  })

  it('reads what it wrote after a restart, and appends after it', async () => {
    const dir = await dataDir()
    const first = await opened(dir)
    await first.put(record(1), bytes(1))
    await first.close()
    open.splice(0)
    const again = await opened(dir)
    await again.put(record(2), bytes(2, 300))
    expect([...(await again.get(record(1)))]).toEqual([...bytes(1)])
    expect([...(await again.get(record(2)))]).toEqual([...bytes(2, 300)])
    expect((await stat(join(dir, RECORD_LOG_FILE))).size).toBe(1200)
  })

  it('reads an entry written before the log existed (a whole value in LevelDB) as it is', async () => {
    const dir = await dataDir()
    const level = new LevelDatastore(join(dir, 'datastore'))
    await level.open()
    await level.put(record(7), Uint8Array.of(0x0a, 1, 2, 3))
    await level.close()
    const store = await opened(dir)
    expect([...(await store.get(record(7)))]).toEqual([0x0a, 1, 2, 3])
  })

  it('queries values through the log; keys as LevelDB has them', async () => {
    const store = await opened(await dataDir())
    await store.put(record(1), bytes(1, 20))
    await store.put(record(2), bytes(2, 30))
    await store.put(new Key('/other/x'), bytes(3, 5))
    const pairs = await all(store.query({ prefix: '/dht/record' }))
    expect(pairs.map((p) => [p.key.toString(), p.value.byteLength])).toEqual([
      ['/dht/record/key1', 20],
      ['/dht/record/key2', 30],
    ])
    const filtered = await all(store.query({ prefix: '/dht/record', filters: [(p) => p.value[0] === 2] }))
    expect(filtered.map((p) => p.key.toString())).toEqual(['/dht/record/key2'])
    expect((await all(store.queryKeys({ prefix: '/other' }))).map(String)).toEqual(['/other/x'])
  })

  it('finds nothing (NotFoundError) where an entry names bytes past the end of the log', async () => {
    const dir = await dataDir()
    const first = await opened(dir)
    await first.put(record(1), bytes(1))
    await first.close()
    open.splice(0)
    await truncate(join(dir, RECORD_LOG_FILE), 100) // a power cut lost the log's tail, not the entry
    const store = await opened(dir)
    await expect(store.get(record(1))).rejects.toMatchObject({ name: 'NotFoundError' })
    // a later write lands after what is there, and reads back
    await store.put(record(1), bytes(5, 10))
    expect([...(await store.get(record(1)))]).toEqual([...bytes(5, 10)])
  })
})
