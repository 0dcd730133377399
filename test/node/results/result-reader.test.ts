import { describe, expect, it } from 'vitest'
import { ResultReader, type ResultReaderParts } from '../../../src/node/results/result-reader.ts'
import type { ResultRecord } from '../../../src/protocol/records/result-record.ts'

/** A reader whose waits settle when the test says: `land(id)` or `fail(id)`. */
function reader() {
  const settle = new Map<string, { resolve(r: ResultRecord): void; reject(e: unknown): void }>()
  const parts: ResultReaderParts = {
    results: {
      get: async () => undefined,
      wait: (id) =>
        new Promise<ResultRecord>((resolve, reject) => {
          settle.set(id, { resolve, reject })
        }),
      poll: async () => undefined,
      cached: () => undefined,
      cachedValue: () => undefined,
    },
    isLocal: () => true,
    remoteWaits: { begin: () => () => undefined },
  }
  const land = (id: string) => settle.get(id)?.resolve({ taskId: id } as ResultRecord)
  const fail = (id: string) => settle.get(id)?.reject(new Error(`${id} aborted`))
  return { r: new ResultReader(parts), land, fail }
}

/** A well-formed task id of its own for each `n` (the reader refuses anything else). */
function fakeId(n: number): string {
  let letters = ''
  do {
    letters = String.fromCharCode(97 + (n % 26)) + letters
    n = Math.floor(n / 26)
  } while (n > 0)
  return `bafkreia${letters.padStart(50, 'a')}a`
}
const [a, b, c, d] = [0, 1, 2, 3].map(fakeId)

async function collect(it: AsyncGenerator<ResultRecord>): Promise<string[]> {
  const out: string[] = []
  for await (const rec of it) out.push(rec.taskId)
  return out
}

describe('ResultReader.results', () => {
  it('yields in the order results land, not the order asked', async () => {
    const { r, land } = reader()
    const done = collect(r.results([a, b, c, d]))
    await Promise.resolve()
    for (const id of [c, a, d, b]) land(id)
    expect(await done).toEqual([c, a, d, b])
  })

  it('yields what landed before a wait failed, then throws its reason', async () => {
    const { r, land, fail } = reader()
    const seen: string[] = []
    const done = (async () => {
      for await (const rec of r.results([a, b, c])) seen.push(rec.taskId)
    })()
    await Promise.resolve()
    land(b)
    fail(c)
    land(a) // after the failure: not yielded
    await expect(done).rejects.toThrow(`${c} aborted`)
    expect(seen).toEqual([b])
  })

  it('takes 20,000 ids landing in reverse, each once', async () => {
    const { r, land } = reader()
    const ids = Array.from({ length: 20_000 }, (_, i) => fakeId(i))
    const done = collect(r.results(ids))
    await Promise.resolve()
    for (let i = ids.length - 1; i >= 0; i--) land(ids[i])
    const got = await done
    expect(got).toEqual([...ids].reverse())
  })

  it('yields nothing for no ids', async () => {
    const { r } = reader()
    expect(await collect(r.results([]))).toEqual([])
  })
})
