import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { loadOrCreatePeerKey } from '../../src/node/wire/identity.ts'
import { ensureSwarmKeyFile, readSwarmKeyFile } from '../../src/node/wire/swarm-key.ts'
import { stopAll } from './helpers.ts'

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'taskmesh-data-dir-'))
})
afterAll(() => rm(root, { recursive: true, force: true }))

/** The codes of an error and of the errors in its `cause` chain. */
function codes(err: unknown): unknown[] {
  const found: unknown[] = []
  for (let e = err; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    found.push((e as { code?: unknown }).code)
  }
  return found
}

describe('one data dir, two starts', () => {
  let nodes: TaskmeshNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('two keys made at once in one new dir are one key, and no temp file is left', async () => {
    for (let round = 0; round < 10; round++) {
      const dir = join(root, `keys-${round}`)
      const keys = await Promise.all([0, 1, 2].map(() => loadOrCreatePeerKey(dir)))
      const ids = new Set(keys.map((k) => peerIdFromPrivateKey(k).toString()))
      expect(ids.size).toBe(1)
      expect(await readdir(dir)).toEqual(['peer.key'])
    }
  })

  it('two swarm keys made at once are one key, each read whole', async () => {
    for (let round = 0; round < 10; round++) {
      const file = join(root, `swarm-${round}.key`)
      const made = await Promise.all([0, 1, 2].map(() => ensureSwarmKeyFile(file)))
      expect(made.filter((m) => m.created)).toHaveLength(1)
      await readSwarmKeyFile(file)
    }
    expect((await readdir(root)).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })

  it('two nodes created at once on a new dir: one runs, the other says the dir is in use', async () => {
    const dataDir = join(root, 'race')
    const settled = await Promise.allSettled([0, 1].map(() => TaskmeshNode.create({ dataDir })))
    nodes = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
    expect(nodes).toHaveLength(1)
    const failed = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult
    expect(failed.reason).toMatchObject({
      code: 'ERR_DATA_DIR_IN_USE',
      message: `data dir ${dataDir} is in use by another node (its datastore is locked)`,
    })
    expect(codes(failed.reason)).toContain('LEVEL_LOCKED')
  })

  it('a node created on the dir of a running node says the dir is in use; after its stop it opens', async () => {
    const dataDir = join(root, 'busy')
    const first = await TaskmeshNode.create({ dataDir })
    nodes = [first]
    const refused = await TaskmeshNode.create({ dataDir }).catch((err: unknown) => err)
    expect(refused).toMatchObject({
      name: 'DataDirInUseError',
      code: 'ERR_DATA_DIR_IN_USE',
      message: `data dir ${dataDir} is in use by another node (its datastore is locked)`,
    })
    expect(codes(refused)).toContain('LEVEL_LOCKED')
    await first.stop()
    const again = await TaskmeshNode.create({ dataDir }) // the refused start left no lock behind
    nodes = [again]
    expect(again.peerId).toBe(first.peerId)
  })
})
