import { afterEach, describe, expect, it } from 'vitest'
import type { AccountingSnapshot } from '../../src/node/accounting/accounting.ts'
import { resolveNodeOptions } from '../../src/node/options.ts'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { InvalidTaskError } from '../../src/task/errors.ts'
import { makeTask } from '../protocol/fixtures.ts'
import { deadline, stopAll, waitAll } from './helpers.ts'

const TASKS = 12

describe('recordCopies: the peers each record made here is copied to', () => {
  let nodes: TaskmeshNode[] = []
  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  /**
   * A complete mesh of 4 where only the first node offers the label the tasks ask for: it runs
   * every task itself (nothing is stolen), so each record's holders are its own copies.
   */
  async function runAtFirst(recordCopies: number) {
    nodes = await startLocalMesh({
      nodes: 4,
      slots: 2,
      nodeOptions: (i) => ({ recordCopies, ...(i === 0 ? { labels: ['here'] } : {}) }),
    })
    const before = nodes.map((n) => n.status().accounting)
    const handles = await nodes[0].submitMany(
      Array.from({ length: TASKS }, (_, i) => ({
        type: 'echo',
        input: i,
        resources: { slots: 1, memoryMb: 0, labels: ['here'] },
      })),
    )
    const ids = handles.map((h) => h.id)
    const records = await waitAll(nodes[0], ids)
    await Promise.all(nodes.map((n) => n.flushResults()))
    const after = nodes.map((n) => n.status().accounting)
    const delta = (i: number, pick: (a: AccountingSnapshot) => number) => pick(after[i]) - pick(before[i])
    return { ids, records, delta }
  }

  it('with 1, each record is written at its executor and at one peer only', async () => {
    const { records, delta } = await runAtFirst(1)
    expect(records.every((r) => r.executor === nodes[0].peerId)).toBe(true)
    const puts = (i: number) => delta(i, (a) => a.datastore.records.put)
    expect(puts(0)).toBe(TASKS)
    // one copy per record, at the peer closest to its key: none relays it (none is closer)
    expect(puts(1) + puts(2) + puts(3)).toBe(TASKS)
  }, 60_000)

  it('with 0, records stay at their executor, no copy is sent, and any node still reads them', async () => {
    const { ids, delta } = await runAtFirst(0)
    expect(delta(0, (a) => a.datastore.records.put)).toBe(TASKS)
    for (const i of [1, 2, 3]) expect(delta(i, (a) => a.datastore.records.put)).toBe(0)
    expect(delta(0, (a) => a.protocols.replicate?.sends ?? 0)).toBe(0)
    // a DHT get at another node reaches the executor's own copy
    const read = await nodes[3].getResult(ids[0], { signal: deadline(), dhtOnly: true })
    expect(read).toMatchObject({ taskId: ids[0], status: 'succeeded', executor: nodes[0].peerId })
  }, 60_000)

  it('a read at another node asks the closest peers over the fetch protocol, with no DHT lookup', async () => {
    const { ids } = await runAtFirst(0)
    const reader = nodes[3]
    const sent = () => {
      const { protocols } = reader.status().accounting
      return { fetch: protocols.fetch?.sends ?? 0, kad: protocols['kad-dht']?.streamsOut ?? 0 }
    }
    const before = sent()
    for (const id of ids.slice(1)) {
      const read = await reader.getResult(id, { skipCache: true, signal: deadline() })
      expect(read).toMatchObject({ taskId: id, status: 'succeeded', executor: nodes[0].peerId })
    }
    // a task nobody has a record of: every peer says so, and that settles it
    const none = await reader.getResult(makeTask(9_999).id, { signal: deadline() })
    expect(none).toBeUndefined()
    const after = sent()
    expect(after.kad - before.kad).toBe(0)
    expect(after.fetch - before.fetch).toBeGreaterThanOrEqual(ids.length)
  }, 60_000)

  it('refuses a count outside 0–20 with an error naming the option', () => {
    for (const bad of [-1, 21, 1.5]) {
      expect(() => resolveNodeOptions({ recordCopies: bad })).toThrow(InvalidTaskError)
      expect(() => resolveNodeOptions({ recordCopies: bad })).toThrow(/recordCopies.*0 to 20/)
    }
    expect(resolveNodeOptions({}).recordCopies).toBe(3)
    expect(resolveNodeOptions({ recordCopies: 0 }).recordCopies).toBe(0)
  })
})
