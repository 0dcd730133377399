import { appendFile, readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { TaskJournal } from '../../../src/node/owner/journal.ts'
import {
  acceptLine,
  attemptLine,
  doneLine,
  journalDamageMessages,
  noDamage,
  noteSkipped,
  OpenLines,
  parseEntry,
} from '../../../src/node/owner/journal-lines.ts'
import { forgetTaskText, taskText } from '../../../src/task/task.ts'
import { journalPaths, OWNER, task } from './journal-fixture.ts'

const run = (epoch: number) => ({
  executor: OWNER,
  epoch,
  startedAt: epoch,
  finishedAt: epoch + 1,
  error: 'interrupted',
  cut: 'interrupted' as const,
})

describe('OpenLines (the open tasks of a journal, as replay keeps them)', () => {
  it('keeps each open task accept line, then its runs, in acceptance order', () => {
    const open = new OpenLines()
    for (const line of [
      acceptLine(task(1)),
      acceptLine(task(2)),
      attemptLine(task(1).id, run(1)),
      acceptLine(task(3)),
      doneLine(task(2).id),
      attemptLine(task(2).id, run(1)), // a run of a task that is done: replay drops it too
    ])
      open.written(line)
    expect(open.lines()).toEqual([
      acceptLine(task(1)).text,
      attemptLine(task(1).id, run(1)).text,
      acceptLine(task(3)).text,
    ])
    expect(open.size).toBe(2)
  })

  it('takes a later accept of an open task in its place, keeping the runs before it', () => {
    const open = new OpenLines()
    open.written(acceptLine(task(1)))
    open.written(attemptLine(task(1).id, run(1)))
    open.written(acceptLine(task(2)))
    const again = { ...task(1), submittedAt: 5 }
    open.written(acceptLine(again))
    expect(open.lines()).toEqual([
      acceptLine(again).text,
      attemptLine(task(1).id, run(1)).text,
      acceptLine(task(2)).text,
    ])
    open.clear()
    expect(open.lines()).toEqual([])
  })
})

describe('TaskJournal compaction', () => {
  const paths = journalPaths()

  it('writes the lines this life replayed and wrote, without reading the file back', async () => {
    const earlier = new TaskJournal(paths.path)
    await earlier.accept([task(1), task(2)])
    await earlier.attempt(task(1).id, run(1))
    await earlier.close()

    const journal = new TaskJournal(paths.path)
    expect((await journal.replay()).map((t) => t.id)).toEqual([task(1).id, task(2).id])
    await journal.accept([task(3), task(4)])
    await journal.attempt(task(3).id, run(2))
    await journal.done([task(2).id, task(4).id])
    await journal.flush()
    // a line this life did not write: a compaction that read the file would keep it
    await appendFile(paths.path, `${acceptLine(task(9)).text}\n`)
    await journal.compact()

    const text = await readFile(paths.path, 'utf8')
    expect(text).toBe(
      `${[
        acceptLine(task(1)),
        attemptLine(task(1).id, run(1)),
        acceptLine(task(3)),
        attemptLine(task(3).id, run(2)),
      ]
        .map((l) => l.text)
        .join('\n')}\n`,
    )
    const next = new TaskJournal(paths.path)
    expect((await next.replay()).map((t) => t.id)).toEqual([task(1).id, task(3).id])
    expect(next.attemptsOf(task(3).id)).toEqual([run(2)])
    await journal.close()
  })

  it('reads the file first when this life has not replayed it: an earlier life’s open tasks stay', async () => {
    const earlier = new TaskJournal(paths.path)
    await earlier.accept([task(1), task(2)])
    await earlier.done([task(1).id])
    await earlier.close()

    const journal = new TaskJournal(paths.path)
    await journal.accept([task(3)])
    await journal.compact()
    const next = new TaskJournal(paths.path)
    expect((await next.replay()).map((t) => t.id)).toEqual([task(2).id, task(3).id])
    // and the lines it now holds go on from there
    await journal.done([task(2).id])
    await journal.flush()
    await journal.compact()
    expect((await new TaskJournal(paths.path).replay()).map((t) => t.id)).toEqual([task(3).id])
    await journal.close()
  })
})

describe('accept lines', () => {
  it("are JSON.stringify of the entry, with the task's text made once per task object", () => {
    const t = task(7)
    const line = acceptLine(t)
    expect(line.text).toBe(JSON.stringify({ op: 'accept', task: t }))
    expect(parseEntry(line.text)).toEqual({ op: 'accept', task: t })
    // the custodians' frames take the same text: made once, handed out again
    expect(taskText(t)).toBe(JSON.stringify(t))
    expect(taskText(t)).toBe(taskText(t))
    expect(acceptLine(t).text).toBe(line.text)
  })

  it("keeps a task's text until custody lets go of it, then makes it afresh when asked again", () => {
    const t = task(8)
    const made = taskText(t)
    t.submittedAt += 1 // never done to a real task: shows whether the text was kept or made again
    expect(taskText(t)).toBe(made)
    forgetTaskText(t)
    expect(taskText(t)).toBe(JSON.stringify(t))
    expect(taskText(t)).not.toBe(made)
  })
})

describe('journal damage', () => {
  it('counts every skipped line and lists the first five, in the messages to log', () => {
    const damage = noDamage('/x/tasks.journal')
    expect(journalDamageMessages(damage)).toEqual([])
    noteSkipped(damage, 8)
    expect(journalDamageMessages(damage)).toEqual([
      'journal: skipped 1 damaged line (line 8) of /x/tasks.journal; its task cannot be replayed',
    ])
    for (const line of [9, 12, 13, 20, 21, 22]) noteSkipped(damage, line)
    damage.tornBytes = 37
    expect(damage).toMatchObject({ skipped: 7, skippedLines: [8, 9, 12, 13, 20] })
    expect(journalDamageMessages(damage)).toEqual([
      'journal: skipped 7 damaged lines (lines 8, 9, 12, 13, 20 and 2 more) of /x/tasks.journal; ' +
        'their tasks cannot be replayed',
      'journal: cut a torn last line (37 bytes) of /x/tasks.journal left by a crash',
    ])
  })
})
