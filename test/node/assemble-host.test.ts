import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Libp2pRecord } from '@libp2p/record'
import { Key } from 'interface-datastore'
import { afterEach, describe, expect, it } from 'vitest'
import { assembleHost } from '../../src/node/assemble-host.ts'
import { resolveNodeOptions } from '../../src/node/options.ts'
import { dhtRecordKey, groupWriterOf, putResultRecord } from '../../src/node/results/fencing.ts'
import { openNodeDatastore } from '../../src/node/results/value-log.ts'
import { resultKey, signResultRecord } from '../../src/protocol/records/result-record.ts'
import { EXECUTOR, executorKey, makeRecord, makeTask } from '../protocol/fixtures.ts'

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
    const store = await openNodeDatastore(dataDir)
    try {
      expect([...(await store.get(new Key('/taskmesh/test/first')))]).toEqual([1])
      expect([...(await store.get(new Key('/taskmesh/test/second')))]).toEqual([2])
    } finally {
      await store.close()
    }
  })
  it('finishes a fenced record write under way before it closes the datastore', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'taskmesh-host-'))
    dirs.push(dataDir)
    const host = await assembleHost(resolveNodeOptions({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'] }))
    const record = makeRecord({
      taskId: makeTask(4242).id,
      owner: EXECUTOR,
      epoch: 1,
      attempts: [{ executor: EXECUTOR, epoch: 1, startedAt: 30, finishedAt: 40 }],
    })
    const key = resultKey(record.taskId)
    const value = await signResultRecord(record, executorKey)
    const serialized = new Libp2pRecord(key, value, new Date()).serialize()
    // the write reads what is stored first: it reaches the group writer only after close began
    const writing = putResultRecord(host.datastore, key, serialized, undefined, undefined, value)
    await host.closeDatastore()
    await expect(writing).resolves.toMatchObject({ written: true })
    const store = await openNodeDatastore(dataDir)
    try {
      const kept = Libp2pRecord.deserialize(await store.get(dhtRecordKey(key)))
      expect(Buffer.from(kept.value).equals(Buffer.from(value))).toBe(true)
    } finally {
      await store.close()
    }
  })
})
