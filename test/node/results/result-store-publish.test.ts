import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { resultKey } from '../../../src/protocol/records/result-record.ts'
import { makeRecord, makeTask } from '../../protocol/fixtures.ts'
import { type MeshMember, startMember, stopMember } from './replicator-mesh.ts'

/** An owner's own record of task `n`, as its run here ends. */
function ownRecord(m: MeshMember, n: number) {
  const self = m.libp2p.peerId.toString()
  const task = makeTask(n, self)
  return makeRecord({
    taskId: task.id,
    executor: self,
    owner: self,
    epoch: 1,
    attempts: [{ executor: self, epoch: 1, startedAt: 30, finishedAt: 40 }],
  })
}

describe('ResultStore.whenPublished (an owner settles a task, then publishes its record)', () => {
  let m: MeshMember
  beforeAll(async () => {
    m = await startMember()
  })
  afterAll(async () => {
    await stopMember(m)
  })

  it('resolves once the publication is in the local store, reading nothing from it', async () => {
    const record = ownRecord(m, 9100)
    const reads = vi.spyOn(m.replicator, 'readLocal')
    try {
      let written = false
      const waiting = m.results.whenPublished(record.taskId).then(() => {
        written = true
      })
      await Promise.resolve()
      expect(written).toBe(false)
      await m.results.publish(record)
      await waiting
      expect(written).toBe(true)
      expect(reads).not.toHaveBeenCalled()
    } finally {
      reads.mockRestore()
    }
    // what woke it is the local copy, there to read now
    expect(await m.replicator.readLocal(resultKey(record.taskId))).toBeDefined()
  })

  it('stays pending while no record of the task is written', async () => {
    const waited = ownRecord(m, 9101)
    const other = ownRecord(m, 9102)
    let woke = false
    void m.results.whenPublished(waited.taskId).then(() => {
      woke = true
    })
    // another task's publication is written (its write wakes only its own waiter)
    let otherWoke = false
    const otherWait = m.results.whenPublished(other.taskId).then(() => {
      otherWoke = true
    })
    await m.results.publish(other)
    await otherWait
    expect(otherWoke).toBe(true)
    expect(woke).toBe(false)
    await m.results.publish(waited)
    await vi.waitFor(() => expect(woke).toBe(true))
  })
})
