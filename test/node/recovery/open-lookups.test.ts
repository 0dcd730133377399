import { describe, expect, it } from 'vitest'
import { LOOKUP_CHUNK_FIRST, LOOKUP_CHUNK_MAX, OpenLookups } from '../../../src/node/recovery/open-lookups.ts'
import type { Task } from '../../../src/task/task.ts'

const tasks = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `t${i}` }) as Task)

describe('OpenLookups.each', () => {
  it('hands on chunks of 64, doubling up to 1,024, with the tasks whose lookup found nothing', async () => {
    const found: string[] = []
    const lookups = new OpenLookups({
      results: { get: async (id: string) => (id.endsWith('7') ? ({ taskId: id } as never) : undefined) },
      stopped: () => false,
      found: (id) => found.push(id),
    })
    const sizes: number[] = []
    const open: string[] = []
    await lookups.each(tasks(3_000), false, async (chunk) => {
      sizes.push(chunk.checked.length)
      open.push(...chunk.open.map((t) => t.id))
      for (const t of chunk.open) expect(chunk.why.get(t.id)).toBe('no record found')
    })
    expect(LOOKUP_CHUNK_FIRST).toBe(64)
    expect(sizes).toEqual([64, 128, 256, 512, LOOKUP_CHUNK_MAX, 3_000 - 1_984])
    expect(open).toEqual(
      tasks(3_000)
        .filter((t) => !t.id.endsWith('7'))
        .map((t) => t.id),
    )
    expect(found).toHaveLength(300)
  })

  it('a chunk whose use throws keeps no later chunk from its use; the first error is thrown at the end', async () => {
    const lookups = new OpenLookups({
      results: { get: async () => undefined },
      stopped: () => false,
      found: () => {},
    })
    const used: number[] = []
    const run = lookups.each(tasks(500), false, async ({ checked }) => {
      used.push(checked.length)
      if (used.length <= 2) throw new Error(`chunk ${used.length} failed`)
    })
    await expect(run).rejects.toThrow('chunk 1 failed')
    expect(used).toEqual([64, 128, 256, 52])
  })

  it('a failed lookup counts as no result, or, deferred, leaves the task out until it failed 3 times', async () => {
    const lookups = new OpenLookups({
      results: {
        get: async () => {
          throw new Error('query timed out')
        },
      },
      stopped: () => false,
      found: () => {},
    })
    const sweep = async (defer: boolean) => {
      const open: string[] = []
      await lookups.each(tasks(2), defer, async (chunk) => {
        open.push(...chunk.open.map((t) => `${t.id}: ${chunk.why.get(t.id)}`))
      })
      return open
    }
    expect(await sweep(true)).toEqual([])
    expect(await sweep(true)).toEqual([])
    expect(await sweep(true)).toEqual([
      't0: lookup failed 3×: query timed out',
      't1: lookup failed 3×: query timed out',
    ])
    expect(await sweep(false)).toEqual([
      't0: lookup failed 1×: query timed out',
      't1: lookup failed 1×: query timed out',
    ])
  })
})

describe('OpenLookups with a batch lookup', () => {
  it('looks up in the DHT only the tasks the batch did not answer for, and trusts what it did', async () => {
    const got: string[] = []
    const found: string[] = []
    const lookups = new OpenLookups({
      results: {
        get: async (id: string) => {
          got.push(id)
          return undefined
        },
      },
      // t0: a record at a peer; t1, t2: surely none; t3: unanswered (a peer failed)
      batch: {
        lookUp: async () =>
          new Map<string, never | null>([
            ['t0', { taskId: 't0' } as never],
            ['t1', null],
            ['t2', null],
          ]),
      },
      stopped: () => false,
      found: (id) => found.push(id),
    })
    const open: string[] = []
    await lookups.each(tasks(4), false, async (chunk) => {
      open.push(...chunk.open.map((t) => `${t.id}: ${chunk.why.get(t.id)}`))
    })
    expect(found).toEqual(['t0'])
    expect(got).toEqual(['t3'])
    expect(open).toEqual([
      't1: no record at the closest peers',
      't2: no record at the closest peers',
      't3: no record found',
    ])
  })

  it('falls back to a DHT lookup per task when the batch lookup fails', async () => {
    const got: string[] = []
    const lookups = new OpenLookups({
      results: { get: async (id: string) => void got.push(id) },
      batch: {
        lookUp: async () => {
          throw new Error('no peers')
        },
      },
      stopped: () => false,
      found: () => {},
    })
    await lookups.each(tasks(3), false, async () => {})
    expect(got.sort()).toEqual(['t0', 't1', 't2'])
  })
})
