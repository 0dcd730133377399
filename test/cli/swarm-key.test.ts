import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../scripts/chaos/cli-process.ts'
import { accessReport, meshAccess } from '../../src/cli/tasks/mesh-access.ts'
import { parseSwarmKey } from '../../src/node/wire/swarm-key.ts'

describe('taskmesh swarm-key', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taskmesh-cli-swarm-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  // keeping an existing file and refusing a bad one are proven on ensureSwarmKeyFile (test/node)
  it('creates a key file that --swarm-key accepts', async () => {
    const file = join(dir, 'swarm.key')
    const created = await runCli(['swarm-key', file])
    expect(created.code, created.stderr).toBe(0)
    expect(created.lines).toEqual([`created ${file}`])
    const key = await readFile(file)
    expect(() => parseSwarmKey(key)).not.toThrow()
  })

  it('warns when a data dir used before lost its swarm key and a new one was made', async () => {
    const used = join(dir, 'used')
    await mkdir(used)
    await writeFile(join(used, 'peer.key'), 'a key of an earlier start')
    const flags = { open: false, bootstrap: [] }
    const remade = await meshAccess(flags, used)
    expect(accessReport(remade, ['/ip4/127.0.0.1/tcp/1']).warn).toEqual([
      `warning: ${join(used, 'swarm.key')} was missing from a data dir used before (its peer.key is there): a new swarm key was made, and the nodes holding the old one cannot connect to this one; to rejoin them, stop, put the old key back (or pass --swarm-key) and start again`,
    ])
    // the next start keeps that key, and a first start of a fresh dir warns of nothing
    expect(accessReport(await meshAccess(flags, used), []).warn).toEqual([])
    const fresh = join(dir, 'fresh')
    await mkdir(fresh)
    expect(accessReport(await meshAccess(flags, fresh), []).warn).toEqual([])
  })
})
