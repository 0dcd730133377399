import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { describe, expect, it } from 'vitest'
import { InMemoryDatastore } from '../../../src/node/wire/memory-datastore.ts'

const bytes = (n: number) => Uint8Array.of(n)

describe('InMemoryDatastore', () => {
  it('applies a batch in order when it is committed, and nothing before', async () => {
    const ds = new InMemoryDatastore()
    await ds.put(new Key('/kept'), bytes(0))
    const batch = ds.batch()
    batch.put(new Key('/a'), bytes(1))
    batch.delete(new Key('/a')) // put, then delete: gone
    batch.delete(new Key('/b'))
    batch.put(new Key('/b'), bytes(2)) // delete, then put: there
    batch.put(new Key('/c'), bytes(3))
    batch.put(new Key('/c'), bytes(4)) // the last put wins
    batch.delete(new Key('/kept'))
    expect(await ds.has(new Key('/b'))).toBe(false)
    expect(await ds.has(new Key('/kept'))).toBe(true)
    await batch.commit()
    expect(await ds.has(new Key('/a'))).toBe(false)
    expect(await ds.get(new Key('/b'))).toEqual(bytes(2))
    expect(await ds.get(new Key('/c'))).toEqual(bytes(4))
    expect(await ds.has(new Key('/kept'))).toBe(false)
  })

  it('a batch committed twice applies its operations once', async () => {
    const ds = new InMemoryDatastore()
    const batch = ds.batch()
    batch.put(new Key('/x'), bytes(1))
    await batch.commit()
    await ds.delete(new Key('/x'))
    await batch.commit()
    expect(await ds.has(new Key('/x'))).toBe(false)
  })

  it('applies to the store itself, not to a put a wrapper set on the instance', async () => {
    const ds = new InMemoryDatastore()
    const seen: string[] = []
    const own = ds.put.bind(ds)
    ds.put = (key, value, options) => {
      seen.push(key.toString())
      return own(key, value, options)
    }
    const batch = ds.batch()
    batch.put(new Key('/y'), bytes(5))
    await batch.commit()
    expect(seen).toEqual([])
    expect(await ds.get(new Key('/y'))).toEqual(bytes(5))
  })

  it('refuses to commit under an aborted signal, changing nothing', async () => {
    const ds = new InMemoryDatastore()
    const batch = ds.batch()
    batch.put(new Key('/z'), bytes(6))
    await expect(batch.commit({ signal: AbortSignal.abort() })).rejects.toThrow()
    expect(await ds.has(new Key('/z'))).toBe(false)
  })

  it('is a MemoryDatastore otherwise (queries see what batches wrote)', async () => {
    const ds = new InMemoryDatastore()
    expect(ds).toBeInstanceOf(MemoryDatastore)
    const batch = ds.batch()
    for (let i = 0; i < 3; i++) batch.put(new Key(`/q/${i}`), bytes(i))
    await batch.commit()
    const keys: string[] = []
    for await (const key of ds.queryKeys({ prefix: '/q' })) keys.push(key.toString())
    expect(keys.sort()).toEqual(['/q/0', '/q/1', '/q/2'])
  })
})
