import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadOrCreateKeyFile } from '../../../src/node/wire/identity.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'taskmesh-identity-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('loadOrCreateKeyFile', () => {
  it('creates a key once and reads the same one back', async () => {
    const path = join(dir, 'client.key')
    const made = await loadOrCreateKeyFile(path)
    const again = await loadOrCreateKeyFile(path)
    expect(peerIdFromPrivateKey(again).toString()).toBe(peerIdFromPrivateKey(made).toString())
  })

  it('says which file is not a key, without the decoder’s words', async () => {
    const path = join(dir, 'notes.txt')
    await writeFile(path, 'not a key\n')
    await expect(loadOrCreateKeyFile(path)).rejects.toThrow(
      `${path} is not a peer key (a libp2p private key file, as taskmesh identity makes)`,
    )
  })

  it('says a key cannot be created in a directory that does not exist, naming both', async () => {
    const path = join(dir, 'missing', 'client.key')
    await expect(loadOrCreateKeyFile(path)).rejects.toThrow(
      `cannot create peer key ${path}: its directory ${join(dir, 'missing')} does not exist`,
    )
  })
})
