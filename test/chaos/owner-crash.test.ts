import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  agreed,
  apiFetch,
  type Daemon,
  hears,
  sleepTask,
  startDaemon,
  status,
  submit,
} from '../../scripts/chaos/daemons.ts'
import { successorOf } from '../../src/node/recovery/successor.ts'

const TASK_MS = 800
const TASKS = 8

let root: string
const started: Daemon[] = []

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'taskmesh-owner-crash-'))
})

afterAll(async () => {
  await Promise.all(started.map((d) => d.process.kill()))
  if (root !== undefined) await rm(root, { recursive: true, force: true })
}, 30_000)

describe('promise 1: an owner killed with SIGKILL while its tasks are queued', () => {
  it('the live successor of each task adopts it; every task completes and reads the same at every node', async () => {
    // b and c must reach each other without the owner: nodes that only hear each other through
    // the dead owner each see the other silent too, and both adopt (duplicates, still converging)
    const owner = await startDaemon(root, 'owner', { slots: 1 })
    const b = await startDaemon(root, 'b', { slots: 1, bootstrap: [owner.addr] })
    const c = await startDaemon(root, 'c', { slots: 1, bootstrap: [owner.addr, b.addr] })
    started.push(owner, b, c)
    await Promise.all([
      hears(owner, [b.peerId, c.peerId]),
      hears(b, [owner.peerId, c.peerId]),
      hears(c, [owner.peerId, b.peerId]),
    ])

    // the owner announced the tasks (submit answers after that); it dies before it could run them
    const ids = await submit(
      owner,
      Array.from({ length: TASKS }, (_, i) => sleepTask(TASK_MS, i)),
    )
    owner.process.signal('SIGKILL')
    await owner.process.exited

    // every task has a result, and both live nodes read the same ones
    const records = await agreed([b, c], ids)
    records.forEach((r, i) => {
      expect(r, `task ${i}`).toMatchObject({ taskId: ids[i], status: 'succeeded', output: i })
      expect([b.peerId, c.peerId]).toContain(r.executor)
      // an adopted task names its adopter as owner: the successor among the live peers
      if (r.owner !== owner.peerId) expect(r.owner).toBe(successorOf(r.taskId, [b.peerId, c.peerId]))
    })
    // exactly one node adopted each orphan: the successor both computed (each node's story says
    // whether it adopted the task)
    const adopters = await Promise.all(
      ids.map(async (id) => {
        const who: string[] = []
        for (const d of [b, c]) {
          const { events } = (await (await apiFetch(d, `/tasks/${id}/story`)).json()) as {
            events: Array<{ event: string; detail?: { lookup?: string } }>
          }
          const adoption = events.find((e) => e.event === 'adopted')
          if (adoption === undefined) continue
          who.push(d.peerId)
          // the one live peer beside the adopter answered for the orphan's key (the fetch protocol):
          // no DHT lookup was needed; the dead owner, in the routing table still, is not asked
          expect(adoption.detail?.lookup).toBe('no record at the closest peers')
        }
        return who
      }),
    )
    ids.forEach((id, i) => {
      expect(adopters[i].length, `adopters of task ${i}`).toBeLessThanOrEqual(1)
      if (adopters[i].length === 1) expect(adopters[i][0]).toBe(successorOf(id, [b.peerId, c.peerId]))
    })
    const adopted = adopters.filter((a) => a.length === 1).length
    expect(adopted).toBeGreaterThan(0)
    const counters = await Promise.all([status(b), status(c)]).then((s) => s.map((x) => x.counters))
    expect(counters[0].adopted + counters[1].adopted).toBe(adopted)
  }, 40_000)
})
