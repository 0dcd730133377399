import { constants } from 'node:fs'
import { appendFile, readdir, readFile, readlink, writeFile } from 'node:fs/promises'
import { describe, expect, it, vi } from 'vitest'
import { COMPACT_AFTER_DONE, DONE_LINGER_MS, TaskJournal } from '../../../src/node/owner/journal.ts'
import { journalPaths, OWNER, task } from './journal-fixture.ts'

describe('TaskJournal', () => {
  const paths = journalPaths()

  it('replays nothing when there is no journal yet', async () => {
    expect(await new TaskJournal(paths.path).replay()).toEqual([])
  })

  it('replays accepted tasks without a done, in acceptance order', async () => {
    const journal = new TaskJournal(paths.path)
    await journal.accept([task(1), task(2), task(3)])
    await journal.done([task(2).id])
    const again = await new TaskJournal(paths.path).replay()
    expect(again.map((t) => t.id)).toEqual([task(1).id, task(3).id])
    expect(again[0]).toEqual(task(1))
    await journal.close()
  })

  it('stays readable after a write torn by a crash', async () => {
    const journal = new TaskJournal(paths.path)
    await journal.accept([task(1)])
    const line = JSON.stringify({ op: 'accept', task: task(2) })
    await appendFile(paths.path, line.slice(0, line.length / 2))
    expect((await new TaskJournal(paths.path).replay()).map((t) => t.id)).toEqual([task(1).id])
    await journal.close()
  })

  it('skips lines that are not journal entries', async () => {
    await writeFile(paths.path, `garbage\n${JSON.stringify({ op: 'accept', task: { id: 'x' } })}\n`)
    expect(await new TaskJournal(paths.path).replay()).toEqual([])
  })

  it('compacts to the open tasks only', async () => {
    const journal = new TaskJournal(paths.path)
    await journal.accept([task(1), task(2)])
    await journal.done([task(1).id])
    await journal.compact()
    const text = await readFile(paths.path, 'utf8')
    expect(text.trim().split('\n')).toHaveLength(1)
    expect((await journal.replay()).map((t) => t.id)).toEqual([task(2).id])
    await journal.close()
  })

  it('compacts after COMPACT_AFTER_DONE results, or after as many as are open when more are', async () => {
    const lineCount = async () => (await readFile(paths.path, 'utf8')).trim().split('\n').length
    const journal = new TaskJournal(paths.path)
    const tasks = Array.from({ length: COMPACT_AFTER_DONE * 2 + 5_000 }, (_, i) => task(i + 1))
    await journal.accept(tasks)
    const ids = tasks.map((t) => t.id)
    // 10,000 done with 15,000 still open: rewriting them would cost more than the lines it drops
    await journal.done(ids.slice(0, COMPACT_AFTER_DONE))
    await journal.flush()
    expect(journal.stats.compactions).toBe(0)
    expect(await lineCount()).toBe(tasks.length + COMPACT_AFTER_DONE)
    // 12,500 done, 12,500 open: due; it runs after the write that carries those entries
    const done = COMPACT_AFTER_DONE + 2_500
    await journal.done(ids.slice(COMPACT_AFTER_DONE, done))
    await journal.close()
    expect(journal.stats.compactions).toBe(1)
    expect(await lineCount()).toBe(tasks.length - done)
    expect((await new TaskJournal(paths.path).replay()).map((t) => t.id)).toEqual(ids.slice(done))
  })

  it('groups what comes in one turn into one write and one sync (group commit)', async () => {
    const journal = new TaskJournal(paths.path)
    const writes = [1, 2, 3, 4, 5].map((n) => journal.accept([task(n)]))
    await Promise.all(writes)
    expect(journal.stats).toMatchObject({ writes: 1, entries: 5, syncs: 1 })
    // while a write is under way, what comes meanwhile goes in the next one
    const first = journal.done([task(1).id])
    const later = [journal.done([task(2).id]), journal.accept([task(6)])]
    await Promise.all([first, ...later])
    expect(journal.stats.writes).toBe(2)
    expect((await new TaskJournal(paths.path).replay()).map((t) => t.id)).toEqual(
      [3, 4, 5, 6].map((n) => task(n).id),
    )
    await journal.close()
  })

  it('starts a group at the end of the turn, after what the turn sends', async () => {
    const journal = new TaskJournal(paths.path)
    const pump = vi.spyOn(journal as unknown as { pump(): void }, 'pump')
    const written = journal.accept([task(1)])
    // the rest of the turn (its microtasks: an offer's frame, an answer) goes before the write
    for (let i = 0; i < 20; i++) await Promise.resolve()
    expect(pump).not.toHaveBeenCalled()
    await written
    expect(pump).toHaveBeenCalledTimes(1)
    expect(journal.stats).toMatchObject({ writes: 1, entries: 1 })
    await journal.close()
  })

  it('writes no `done` alone: it goes out with the next accepted batch, or within the linger', async () => {
    const journal = new TaskJournal(paths.path)
    await journal.accept([task(1), task(2), task(3)])
    const ids = async () => (await new TaskJournal(paths.path).replay()).map((t) => t.id)
    const done1 = journal.done([task(1).id])
    // a whole turn of file I/O later, the done is not on the disk yet
    await readFile(paths.path, 'utf8')
    expect(journal.stats.writes).toBe(1)
    expect(await ids()).toEqual([1, 2, 3].map((n) => task(n).id))
    // the next accepted batch takes it along: one write for both
    await journal.accept([task(4)])
    await done1
    expect(journal.stats).toMatchObject({ writes: 2, entries: 5 })
    expect(await ids()).toEqual([2, 3, 4].map((n) => task(n).id))
    // with nothing else to write, it goes out by itself before long
    const started = performance.now()
    await journal.done([task(2).id])
    expect(performance.now() - started).toBeGreaterThanOrEqual(DONE_LINGER_MS - 5)
    expect(journal.stats.writes).toBe(3)
    // and closing writes what waits
    void journal.done([task(3).id])
    await journal.close()
    expect(journal.stats.writes).toBe(4)
    expect(await ids()).toEqual([task(4).id])
  })

  it('with `os` durability writes without syncing', async () => {
    const journal = new TaskJournal(paths.path, 'os')
    await journal.accept([task(1)])
    expect(journal.stats).toMatchObject({ writes: 1, syncs: 0 })
    expect((await openFlags(paths.path)) & constants.O_DSYNC).toBe(0)
    await journal.close()
  })

  it('with `sync` durability (the default) writes through a handle opened O_DSYNC', async () => {
    const journal = new TaskJournal(paths.path)
    await journal.accept([task(1)])
    // each write returns once its data is on the disk: no separate fdatasync
    expect((await openFlags(paths.path)) & constants.O_DSYNC).toBe(constants.O_DSYNC)
    await journal.close()
  })

  it('keeps the runs a stop cut short with their open task, through compaction, until done', async () => {
    const journal = new TaskJournal(paths.path)
    const run = {
      executor: OWNER,
      epoch: 2,
      startedAt: 1,
      finishedAt: 5,
      error: 'interrupted',
      cut: 'interrupted' as const,
    }
    await journal.accept([task(1), task(2)])
    await journal.attempt(task(1).id, run)
    await journal.attempt(task(2).id, run)
    await journal.done([task(2).id])
    const again = new TaskJournal(paths.path)
    await again.replay()
    expect(again.attemptsOf(task(1).id)).toEqual([run])
    expect(again.attemptsOf(task(2).id)).toEqual([])
    await again.compact()
    const compacted = new TaskJournal(paths.path)
    expect((await compacted.replay()).map((t) => t.id)).toEqual([task(1).id])
    expect(compacted.attemptsOf(task(1).id)).toEqual([run])
    await journal.close()
  })
})

/** The open flags of this process's file descriptor on `file` (Linux: /proc/self/fdinfo). */
async function openFlags(file: string): Promise<number> {
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '')
    if (target !== file) continue
    const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8')
    const flags = /^flags:\s*([0-7]+)$/m.exec(info)?.[1]
    if (flags !== undefined) return Number.parseInt(flags, 8)
  }
  throw new Error(`no open descriptor on ${file}`)
}
