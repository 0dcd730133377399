import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  agreed,
  type Daemon,
  eventually,
  hears,
  LEASE_TTL_MS,
  sleepTask,
  startDaemon,
  status,
  submit,
} from '../../scripts/chaos/daemons.ts'

const TASK_MS = 1_200
const TASKS = 8

let root: string
const started: Daemon[] = []

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'taskmesh-executor-crash-'))
})

afterAll(async () => {
  await Promise.all(started.map((d) => d.process.kill()))
  if (root !== undefined) await rm(root, { recursive: true, force: true })
}, 30_000)

describe('promise 1: an executor killed with SIGKILL while it holds leases', () => {
  it('its tasks are taken back within the lease TTL and all complete elsewhere', async () => {
    const owner = await startDaemon(root, 'owner', { slots: 1 })
    const [thief, other] = await Promise.all([
      startDaemon(root, 'thief', { slots: 2, bootstrap: [owner.addr] }),
      startDaemon(root, 'other', { slots: 1, bootstrap: [owner.addr] }),
    ])
    started.push(owner, thief, other)
    await Promise.all([
      hears(owner, [thief.peerId, other.peerId]),
      hears(thief, [owner.peerId]),
      hears(other, [owner.peerId]),
    ])

    const ids = await submit(
      owner,
      Array.from({ length: TASKS }, (_, i) => sleepTask(TASK_MS, i)),
    )
    const held = await eventually(
      async () => {
        const s = await status(thief)
        return s.leasedIn > 0 ? s.leasedIn : undefined
      },
      10_000,
      'the thief stole',
    )
    const killedAt = Date.now()
    thief.process.signal('SIGKILL')
    await thief.process.exited

    // the owner takes the dead thief's leases back (its disconnect, else the lease expiry)
    const lostAt = await eventually(
      async () => {
        const { counters } = await status(owner)
        return counters.executorsLost >= 1 ? Date.now() : undefined
      },
      LEASE_TTL_MS + 2_000,
      'the owner took the leases back',
    )
    expect(lostAt - killedAt).toBeLessThanOrEqual(LEASE_TTL_MS + 500)

    // every task has a result, and the owner and another node read the same ones
    const records = await agreed([owner, other], ids)
    records.forEach((r, i) => {
      expect(r, `task ${i}`).toMatchObject({ status: 'succeeded', output: i })
      // the dead thief only counts for what it finished before it died
      if (r.executor === thief.peerId) expect(r.finishedAt).toBeLessThanOrEqual(killedAt)
      else expect([owner.peerId, other.peerId]).toContain(r.executor)
    })
    const finishedElsewhere = records.filter((r) => r.executor !== thief.peerId).length
    expect(finishedElsewhere).toBeGreaterThanOrEqual(held)
    const { counters } = await status(owner)
    expect(counters.poisoned).toBe(0)
  }, 40_000)
})
