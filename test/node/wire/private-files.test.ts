import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JOURNAL_FILE } from '../../../src/node/owner/journal.ts'
import { RECORD_LOG_FILE } from '../../../src/node/results/value-log.ts'
import { TaskmeshNode } from '../../../src/node/taskmesh-node.ts'
import { PEER_KEY_FILE } from '../../../src/node/wire/identity.ts'
import { openDataDirWarning } from '../../../src/node/wire/private-files.ts'
import { waitAll } from '../../integration/helpers.ts'

/**
 * A node's data dir holds its tasks' inputs (the journal) and results (the record store): another
 * user of the machine must not read them, whatever the umask. A dir made open before (or by hand)
 * is warned of, with the command that closes it.
 */

const modeOf = async (path: string) => (await stat(path)).mode & 0o777

describe('a data dir', () => {
  let root: string
  const umask = process.umask(0o022) // the usual default, under which files come out 644 and dirs 755
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'taskmesh-private-'))
  })
  afterAll(async () => {
    process.umask(umask)
    await rm(root, { recursive: true, force: true })
  })

  it('is made readable by its owner only, and so are the journal, the record log and the key', async () => {
    const dir = join(root, 'made', 'node')
    const node = await TaskmeshNode.create({
      dataDir: dir,
      slots: 1,
      beaconIntervalMs: 100,
      failureDetectionMs: 300,
    })
    try {
      const [h] = await node.submitMany([{ type: 'echo', input: 'a secret input' }])
      expect((await waitAll(node, [h.id]))[0].status).toBe('succeeded')
    } finally {
      await node.stop()
    }
    expect(await modeOf(dir)).toBe(0o700)
    expect(await modeOf(join(root, 'made'))).toBe(0o700)
    for (const file of [JOURNAL_FILE, RECORD_LOG_FILE, PEER_KEY_FILE])
      expect({ file, mode: await modeOf(join(dir, file)) }).toEqual({ file, mode: 0o600 })
    expect(await openDataDirWarning(dir)).toBeUndefined()
  })

  it('made open by hand is warned of, with its mode and how to close it', async () => {
    const dir = join(root, 'open')
    await mkdir(dir)
    await chmod(dir, 0o755)
    expect(await openDataDirWarning(dir)).toBe(
      `warning: data dir ${dir} is open to other users of this machine (mode 755): the task inputs and results in it are too; close it with: chmod 700 ${dir}`,
    )
    await chmod(dir, 0o750)
    expect(await openDataDirWarning(dir)).toMatch(/\(mode 750\)/)
  })
})
