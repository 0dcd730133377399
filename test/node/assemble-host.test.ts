import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { afterEach, describe, expect, it } from 'vitest'
import { assembleHost } from '../../src/node/assemble-host.ts'
import { resolveNodeOptions } from '../../src/node/options.ts'
import { groupWriterOf } from '../../src/node/results/fencing.ts'

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

describe('assembleHost', () => {
  it('writes what waits for its group-commit window before it closes the datastore', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'taskmesh-host-'))
    dirs.push(dataDir)
    const host = await assembleHost(resolveNodeOptions({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'] }))
    const writer = groupWriterOf(host.datastore)
    if (writer === undefined) throw new Error('the node datastore has no group writer')
    // a quiet writer commits at once; the next write lands inside the window and waits for it
    await writer.put(new Key('/taskmesh/test/first'), Uint8Array.of(1))
    const waiting = writer.put(new Key('/taskmesh/test/second'), Uint8Array.of(2))
    await host.closeDatastore()
    await expect(waiting).resolves.toBeUndefined()
    const store = new LevelDatastore(join(dataDir, 'datastore'))
    await store.open()
    try {
      expect([...(await store.get(new Key('/taskmesh/test/first')))]).toEqual([1])
      expect([...(await store.get(new Key('/taskmesh/test/second')))]).toEqual([2])
    } finally {
      await store.close()
    }
  })
})
