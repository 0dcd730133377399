import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TaskJournal } from '../../../src/node/owner/journal.ts'
import { parseTaskSpec } from '../../../src/task/spec.ts'
import type { Task } from '../../../src/task/task.ts'
import { taskId } from '../../../src/task/task-id.ts'

const OWNER = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'

function task(n: number): Task {
  const spec = parseTaskSpec({ type: 'sleep', input: { ms: n } })
  const nonce = `n${n}`
  return {
    id: taskId(spec, OWNER, nonce),
    spec,
    submitter: OWNER,
    nonce,
    owner: OWNER,
    submittedAt: 1_700_000_000_000 + n,
  }
}

describe('TaskJournal', () => {
  let dir: string
  let path: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taskmesh-journal-'))
    path = join(dir, 'tasks.journal')
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('replays nothing when there is no journal yet', async () => {
    expect(await new TaskJournal(path).replay()).toEqual([])
  })

  it('replays accepted tasks without a done, in acceptance order', async () => {
    const journal = new TaskJournal(path)
    await journal.accept([task(1), task(2), task(3)])
    await journal.done([task(2).id])
    const again = await new TaskJournal(path).replay()
    expect(again.map((t) => t.id)).toEqual([task(1).id, task(3).id])
    expect(again[0]).toEqual(task(1))
  })

  it('stays readable after a write torn by a crash', async () => {
    const journal = new TaskJournal(path)
    await journal.accept([task(1)])
    const line = JSON.stringify({ op: 'accept', task: task(2) })
    await appendFile(path, line.slice(0, line.length / 2))
    expect((await new TaskJournal(path).replay()).map((t) => t.id)).toEqual([task(1).id])
  })

  it('skips lines that are not journal entries', async () => {
    await writeFile(path, `garbage\n${JSON.stringify({ op: 'accept', task: { id: 'x' } })}\n`)
    expect(await new TaskJournal(path).replay()).toEqual([])
  })

  it('compacts to the open tasks only', async () => {
    const journal = new TaskJournal(path)
    await journal.accept([task(1), task(2)])
    await journal.done([task(1).id])
    await journal.compact()
    const text = await readFile(path, 'utf8')
    expect(text.trim().split('\n')).toHaveLength(1)
    expect((await journal.replay()).map((t) => t.id)).toEqual([task(2).id])
  })
})
