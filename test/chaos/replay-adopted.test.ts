import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  apiFetch,
  type Daemon,
  eventually,
  hears,
  results,
  sleepTask,
  startDaemon,
  submit,
} from '../../scripts/chaos/daemons.ts'

const TASKS = 12
/** Each task's run: long enough that the adopters' one slot leaves most adopted tasks queued. */
const TASK_MS = 1_500

let root: string
const started: Daemon[] = []

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'taskmesh-replay-adopted-'))
})

afterAll(async () => {
  await Promise.all(started.map((d) => d.process.kill()))
  if (root !== undefined) await rm(root, { recursive: true, force: true })
}, 30_000)

/** The events of a task's story at `daemon`. */
async function storyOf(daemon: Daemon, id: string): Promise<string[]> {
  const res = await apiFetch(daemon, `/tasks/${id}/story`)
  return ((await res.json()) as { events: Array<{ event: string }> }).events.map((e) => e.event)
}

describe('an owner restarted after its custodians adopted its tasks', () => {
  it('replays none of the adopted ones: each runs at its adopter only', async () => {
    const owner = await startDaemon(root, 'owner', { slots: 1 })
    started.push(owner)
    const others = await Promise.all(
      ['b', 'c'].map((n) => startDaemon(root, n, { slots: 1, bootstrap: [owner.addr] })),
    )
    started.push(...others)
    await hears(
      owner,
      others.map((d) => d.peerId),
    )
    const ids = await submit(
      owner,
      Array.from({ length: TASKS }, (_, i) => sleepTask(TASK_MS, i)),
    )
    owner.process.signal('SIGKILL')
    await owner.process.exited
    // the custodians declare it dead and adopt its tasks: all but those they run under its lease
    const accounted = async () => {
      const adopted = new Map<string, Daemon>()
      let run = 0
      for (const id of ids) {
        const stories = await Promise.all(others.map((d) => storyOf(d, id)))
        const at = stories.findIndex((events) => events.includes('adopted'))
        if (at >= 0) adopted.set(id, others[at])
        else if (stories.some((events) => events.includes('stolen'))) run++
      }
      return adopted.size > 0 && adopted.size + run === TASKS ? adopted : undefined
    }
    const adopted = await eventually(accounted, 20_000, 'every task adopted or run under a lease')
    const again = await startDaemon(root, 'owner', { slots: 1, bootstrap: [others[0].addr] })
    started.push(again)
    const records = await results(others[0], ids, 30_000)
    expect(records.every((r) => r.status === 'succeeded')).toBe(true)
    // the restarted owner took none of the adopted tasks back: it replayed only the others
    for (const [id] of adopted) expect(await storyOf(again, id), id).not.toContain('replayed')
  }, 90_000)
})
