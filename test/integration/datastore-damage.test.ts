import { open as openFile, readdir, stat, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../../src/log/logger.ts'
import { levelDamage, RECORD_LOG_FILE } from '../../src/node/results/value-log.ts'
import { nodeOnDataDir } from './data-dir-node.ts'

/**
 * LevelDB drops what fails its checksums when it opens (a crash mid-write, a bad sector) and says
 * so only in its own `datastore/LOG`: the records in it are gone. A node starting on such a data
 * dir now says it in its log.
 */
describe('a data dir whose datastore was damaged', () => {
  const life = nodeOnDataDir('taskmesh-damage-')

  it('is opened, and the node warns of what LevelDB dropped', async () => {
    const dir = await life.dir()
    const store = join(dir, 'datastore')
    const level = new LevelDatastore(store)
    await level.open()
    for (let i = 0; i < 200; i++)
      await level.put(new Key(`/k${i}`), new TextEncoder().encode('v'.repeat(500)))
    await level.close()
    // bytes of LevelDB's write-ahead log overwritten, as a bad sector would
    const wal = (await readdir(store)).find((f) => f.endsWith('.log'))
    const file = await openFile(join(store, wal ?? ''), 'r+')
    await file.write(Buffer.from('GARBAGE'.repeat(100)), 0, 700, 3_000)
    await file.close()
    const logged: Array<Record<string, unknown>> = []
    const destination = { write: (line: string) => logged.push(JSON.parse(line)) }
    await life.start({
      logger: createLogger({ level: 'warn', format: 'json', destination }),
    })
    const said = logged.map((l) => String(l.msg)).filter((m) => m.startsWith('datastore:'))
    expect(said).toEqual([
      expect.stringMatching(/^datastore: LevelDB dropped \d+ damaged bytes when it opened/),
    ])
  })

  it('says nothing of a datastore LevelDB opened whole', async () => {
    const dir = await life.dir()
    const level = new LevelDatastore(join(dir, 'datastore'))
    await level.open()
    await level.put(new Key('/k'), new Uint8Array([1]))
    await level.close()
    const again = new LevelDatastore(join(dir, 'datastore'))
    await again.open()
    await again.close()
    expect(await levelDamage(dir)).toBeUndefined()
  })

  it('warns at start of a record log cut short since the last stop, and of nothing after a clean one', async () => {
    const dir = await life.dir()
    const logged: Array<Record<string, unknown>> = []
    const logger = createLogger({
      level: 'warn',
      format: 'json',
      destination: { write: (line: string) => logged.push(JSON.parse(line)) },
    })
    const said = () => logged.map((l) => String(l.msg)).filter((m) => m.startsWith('datastore:'))
    let node = await life.start({ logger })
    const [handle] = await node.submitMany([{ type: 'echo', input: { pad: 'x'.repeat(2_000) } }])
    expect(await node.waitResult(handle.id, AbortSignal.timeout(10_000))).toMatchObject({
      status: 'succeeded',
    })
    await node.stop()
    const path = join(dir, RECORD_LOG_FILE)
    const size = (await stat(path)).size
    expect(size).toBeGreaterThan(2_000) // the record's value is in the log

    node = await life.start({ logger })
    expect(said()).toEqual([]) // whole since the last stop
    await node.stop()
    await truncate(path, size - 1_000)
    node = await life.start({ logger })
    expect(said()).toEqual([
      `datastore: ${path} is 1000 bytes shorter than when the node last stopped (${size - 1_000} of ${size}): result records stored here in those bytes are gone (their copies at peers are still read)`,
    ])
  })
})
