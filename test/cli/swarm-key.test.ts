import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../scripts/chaos/cli-process.ts'
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
})
