import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { OwnerLedger } from '../../src/node/owner/owner-ledger.ts'
import type { ResultPublisher } from '../../src/node/results/result-publisher.ts'
import type { ResultStore } from '../../src/node/results/result-store.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import { connectAll, waitForMesh } from '../../src/simulation/mesh.ts'
import { deadline, stopAll } from './helpers.ts'

interface Inside {
  parts: { results: ResultStore; ledger: OwnerLedger; publisher: ResultPublisher }
}

/**
 * A task that ran here leaves the ledger when its run ends, and its record is kept here once it is
 * signed: a signing window later, longer on a loaded loop. A waiter that comes in between (a
 * submitter that asks just after its task ran) waits for the record here. It looked the task up
 * in the DHT instead, as for a task of another owner: a kad-dht lookup of every DHT peer, 26 ms of
 * CPU in an 8-node simulation, where such waiters made 13–26 lookups per run.
 */
describe('a waiter that comes as a local run ends', () => {
  let nodes: TaskmeshNode[] = []

  beforeAll(async () => {
    nodes = await Promise.all([0, 1].map(() => TaskmeshNode.create({ transport: 'tcp', slots: 2 })))
    await connectAll(nodes)
    await waitForMesh(nodes)
  })

  afterAll(async () => {
    await stopAll(nodes)
  })

  it('gets the record made here, without a DHT lookup', async () => {
    const [a] = nodes
    const { results, ledger, publisher } = (a as unknown as Inside).parts
    const polls = vi.spyOn(results, 'poll')
    let seen: { owned: boolean; cached: boolean; producing: boolean } | undefined
    // the only task of this node: its run may end before its submission is answered
    const waited = new Promise<ResultRecord>((resolve, reject) => {
      const off = a.onTaskEvent((e) => {
        if (e.event !== 'finished') return
        off()
        // the run has ended: once this turn's synchronous part is over, the task is settled and
        // its record is being signed
        queueMicrotask(() => {
          seen = {
            owned: ledger.has(e.taskId),
            cached: results.cached(e.taskId) !== undefined,
            producing: publisher.producing(e.taskId),
          }
          a.waitResult(e.taskId, deadline()).then(resolve, reject)
        })
      })
    })
    const [handle] = await a.submitMany([{ type: 'echo', input: 'here' }])
    const record = await waited
    expect(seen).toEqual({ owned: false, cached: false, producing: true })
    expect(record).toMatchObject({
      taskId: handle.id,
      status: 'succeeded',
      output: 'here',
      executor: a.peerId,
    })
    expect(publisher.producing(handle.id)).toBe(false)
    expect(polls).not.toHaveBeenCalled()
    polls.mockRestore()
  })

  it('polls no network for a task still in progress here: answers at once that there is no record', async () => {
    const [a] = nodes
    const { results } = (a as unknown as Inside).parts
    const gets = vi.spyOn(results, 'get')
    const [handle] = await a.submitMany([{ type: 'sleep', input: { ms: 60_000 } }])
    expect(await a.getResult(handle.id)).toBeUndefined()
    expect(await a.signedResult(handle.id, { wait: false })).toBeUndefined()
    expect(gets).not.toHaveBeenCalled()
    // a task that ended here is read as before
    const [done] = await a.submitMany([{ type: 'echo', input: 'done' }])
    await a.waitResult(done.id, deadline())
    expect(await a.getResult(done.id)).toMatchObject({ status: 'succeeded', output: 'done' })
    gets.mockRestore()
    await a.cancel(handle.id)
  })
})
