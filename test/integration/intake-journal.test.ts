import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../../src/log/logger.ts'
import { CUSTODY_GRACE_MS } from '../../src/node/owner/acceptance.ts'
import { INTAKE_TURN_ITEMS } from '../../src/node/owner/intake.ts'
import { JOURNAL_FILE, TaskJournal } from '../../src/node/owner/journal.ts'
import { nodeOnDataDir } from './data-dir-node.ts'

describe('a submission taken in turns', () => {
  const life = nodeOnDataDir('taskmesh-intake-')

  it('is in the journal, whole and in one group commit, once its submission is acknowledged', async () => {
    const dir = await life.dir()
    const node = await life.start({ durability: 'sync', slots: 1 })
    const before = node.status().accounting.journal.writes
    const count = 3 * INTAKE_TURN_ITEMS + 7
    // long sleeps: nothing ends (no `done` entry) while the journal is read below
    const handles = await node.submitMany(
      Array.from({ length: count }, (_, i) => ({ type: 'sleep', input: { ms: 600_000 + i } })),
    )
    const journalled = await new TaskJournal(join(dir, JOURNAL_FILE)).replay()
    expect(journalled.map((t) => t.id)).toEqual(handles.map((h) => h.id))
    expect(node.status().accounting.journal.writes - before).toBe(1)
  })

  it('waits for its results: a task answered within the grace never reaches the journal; one still running does', async () => {
    const dir = await life.dir()
    const node = await life.start({ durability: 'sync', slots: 2 })
    const before = node.status().accounting.journal.entries
    const quick = await node.submitAndWait([{ type: 'echo', input: 'now' }], {
      signal: AbortSignal.timeout(10_000),
    })
    expect(quick.results).toMatchObject([{ status: 'succeeded', output: 'now' }])
    // still running when its wait ends (past the grace): answered without a result once journalled
    const slow = await node.submitAndWait([{ type: 'sleep', input: { ms: 600_000 } }], {
      signal: AbortSignal.timeout(2 * CUSTODY_GRACE_MS),
    })
    expect(slow.results).toEqual([null])
    const journalled = await new TaskJournal(join(dir, JOURNAL_FILE)).replay()
    expect(journalled.map((t) => t.id)).toEqual([slow.handles[0].id])
    // the quick task left no entry at all (no acceptance, no done): the slow one's acceptance alone
    expect(node.status().accounting.journal.entries - before).toBe(1)
  })

  it('at the next start, logs the damaged lines it skipped and the torn line it cut, and keeps the rest', async () => {
    const dir = await life.dir()
    let node = await life.start({ durability: 'sync', slots: 1 })
    const handles = await node.submitMany(
      [1, 2, 3].map((i) => ({ type: 'sleep', input: { ms: 600_000 + i } })),
    )
    await node.stop()
    // line 2 spoilt, and a crash's torn last line
    const file = join(dir, JOURNAL_FILE)
    const lines = (await readFile(file, 'utf8')).split('\n')
    lines[1] = `X${lines[1]}`
    await writeFile(file, `${lines.join('\n')}{"op":"acc`)
    const logged: Array<Record<string, unknown>> = []
    const destination = { write: (line: string) => logged.push(JSON.parse(line)) }
    node = await life.start({
      slots: 1,
      logger: createLogger({ level: 'warn', format: 'json', destination }),
    })
    expect(logged.map((l) => l.msg)).toEqual([
      `journal: skipped 1 damaged line (line 2) of ${file}; its task cannot be replayed`,
      `journal: cut a torn last line (10 bytes) of ${file} left by a crash`,
    ])
    await node.stop()
    // the other two tasks are still open in the journal, the torn line gone
    const kept = await new TaskJournal(file).replay()
    expect(kept.map((t) => t.id)).toEqual([handles[0].id, handles[2].id])
    expect((await readFile(file, 'utf8')).endsWith('\n')).toBe(true)
  })

  it('refuses a submission its journal cannot keep, and cancels its tasks: none runs on', async () => {
    const dir = await life.dir()
    const node = await life.start({ durability: 'sync', slots: 1 })
    await mkdir(join(dir, JOURNAL_FILE)) // the journal cannot be opened: EISDIR
    const refusal = await node.submitMany([{ type: 'sleep', input: { ms: 600_000 } }]).then(
      () => undefined,
      (err: Error) => err,
    )
    expect(refusal?.message).toMatch(
      /^journal .*tasks\.journal: cannot open: .*EISDIR.*: the submission is not accepted, 1 of its 1 tasks cancelled$/,
    )
    // the one task it took is cancelled, not left running
    const [task] = (await node.listTasks()).tasks
    expect(task).toMatchObject({ state: 'failed' })
    const record = await node.waitResult(task.taskId, AbortSignal.timeout(10_000))
    expect(record).toMatchObject({ status: 'failed', error: 'cancelled' })
    expect(node.status().running).toBe(0)
  })
})
