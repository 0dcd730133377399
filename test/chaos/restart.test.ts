import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Daemon,
  eventually,
  result,
  results,
  sleepTask,
  startDaemon,
  status,
  submit,
} from '../../scripts/chaos/daemons.ts'
import { JOURNAL_FILE, TaskJournal } from '../../src/node/owner/journal.ts'

const TASK_MS = 700
const TASKS = 4

let root: string
const started: Daemon[] = []

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'taskmesh-restart-'))
})

afterAll(async () => {
  await Promise.all(started.map((d) => d.process.kill()))
  if (root !== undefined) await rm(root, { recursive: true, force: true })
}, 30_000)

describe('promise 9: a daemon killed with SIGKILL and restarted on its data dir loses nothing', () => {
  it('keeps its peer id and its stored results, and runs every accepted-but-unfinished task', async () => {
    const first = await startDaemon(root, 'solo', { slots: 1 })
    started.push(first)

    // a result stored before the crash
    const [earlier] = await submit(first, [{ type: 'echo', input: 'before the crash' }])
    expect(await result(first, earlier, 10_000)).toMatchObject({
      status: 'succeeded',
      output: 'before the crash',
    })

    // tasks accepted (the journal has them once submit answered) but not finished at the crash
    const acceptedAt = Date.now()
    const ids = await submit(
      first,
      Array.from({ length: TASKS }, (_, i) => sleepTask(TASK_MS, i)),
    )
    const journal = await readFile(join(first.dir, JOURNAL_FILE), 'utf8')
    for (const id of ids) expect(journal).toContain(id)
    await eventually(
      async () => ((await status(first)).running === 1 ? true : undefined),
      5_000,
      'a task runs',
    )
    first.process.signal('SIGKILL')
    expect((await first.process.exited).signal).toBe('SIGKILL')

    const again = await startDaemon(root, 'solo', { slots: 1 })
    started.push(again)
    expect(again.peerId).toBe(first.peerId)

    const records = await results(again, ids, 15_000)
    records.forEach((r, i) => {
      expect(r, `task ${i}`).toMatchObject({ taskId: ids[i], status: 'succeeded', output: i })
      expect(r.executor).toBe(again.peerId)
      // replayed tasks run under epochs above every one allocated before the crash
      expect(r.epoch).toBeGreaterThan(acceptedAt)
    })
    const counters = (await status(again)).counters
    expect(counters.replayed).toBeGreaterThanOrEqual(TASKS - 1)
    expect(counters.accepted).toBe(0)

    // the result stored before the crash is still served from the data dir
    expect(await result(again, earlier)).toMatchObject({ taskId: earlier, output: 'before the crash' })

    // a clean stop leaves a journal with nothing open: a third start replays nothing
    await again.process.kill()
    expect(await new TaskJournal(join(again.dir, JOURNAL_FILE)).replay()).toEqual([])
  }, 40_000)
})
