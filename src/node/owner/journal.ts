import { createReadStream } from 'node:fs'
import { appendFile, mkdir, open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { createInterface } from 'node:readline'
import { taskSchema } from '../../protocol/task-schema.ts'
import type { Task } from '../../task/task.ts'
import type { JournalCounts } from '../accounting/accounting.ts'

/** File name of the task journal inside a data dir. */
export const JOURNAL_FILE = 'tasks.journal'
/** Compact once this many finished entries are in the file. */
export const COMPACT_AFTER_DONE = 10_000

type Entry = { op: 'accept'; task: Task } | { op: 'done'; id: string }

/**
 * The owner's journal of accepted-but-unfinished tasks: one JSON line per event (`accept` with
 * the whole task, `done` with its id), appended before the submitter hears "accepted". A
 * restarted daemon replays it and requeues what has no `done`. A write cut short by a crash
 * leaves at most one torn last line, which replay skips: the journal stays readable.
 */
export class TaskJournal {
  private doneSinceCompact = 0
  private writing: Promise<void> = Promise.resolve()

  /** @param counts where writes, bytes written and syncs are counted. */
  constructor(
    private readonly path: string,
    private readonly counts?: JournalCounts,
  ) {}

  /** Reads the journal: the tasks accepted and not finished, in acceptance order. */
  async replay(): Promise<Task[]> {
    await mkdir(dirname(this.path), { recursive: true })
    const open = new Map<string, Task>()
    let lines: AsyncIterable<string>
    try {
      const stream = createReadStream(this.path, { encoding: 'utf8' })
      await new Promise<void>((resolve, reject) => {
        stream.once('open', () => resolve())
        stream.once('error', reject)
      })
      lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    for await (const line of lines) {
      const entry = parseEntry(line)
      if (entry === undefined) continue
      if (entry.op === 'accept') open.set(entry.task.id, entry.task)
      else open.delete(entry.id)
    }
    return [...open.values()]
  }

  /** Records accepted tasks; resolves once the lines are written. */
  accept(tasks: Task[]): Promise<void> {
    return this.append(tasks.map((task) => ({ op: 'accept', task })))
  }

  /** Records finished tasks (a result exists); compacts now and then. */
  done(ids: string[]): Promise<void> {
    this.doneSinceCompact += ids.length
    const written = this.append(ids.map((id) => ({ op: 'done', id })))
    if (this.doneSinceCompact >= COMPACT_AFTER_DONE) {
      this.doneSinceCompact = 0
      return written.then(() => this.compact())
    }
    return written
  }

  /** Rewrites the journal with only the open tasks (temp file + rename, so a crash keeps one whole file). */
  async compact(): Promise<void> {
    await this.serial(async () => {
      const open = await this.replay()
      const tmp = `${this.path}.compact`
      const handle = await open_(tmp)
      try {
        const text = open.map((task) => `${JSON.stringify({ op: 'accept', task })}\n`).join('')
        this.count(text)
        await handle.writeFile(text)
        await handle.sync()
        if (this.counts !== undefined) this.counts.syncs++
      } finally {
        await handle.close()
      }
      await rename(tmp, this.path)
    })
  }

  /** Resolves once every write started so far has ended. */
  async flush(): Promise<void> {
    await this.writing
  }

  /** Deletes the journal (tests and `--reset`). */
  async remove(): Promise<void> {
    await this.serial(() => rm(this.path, { force: true }))
  }

  private append(entries: Entry[]): Promise<void> {
    if (entries.length === 0) return this.writing
    const text = entries.map((e) => `${JSON.stringify(e)}\n`).join('')
    this.count(text)
    return this.serial(() => appendFile(this.path, text))
  }

  private count(text: string): void {
    if (this.counts === undefined) return
    this.counts.writes++
    this.counts.bytes += Buffer.byteLength(text)
  }

  private serial(work: () => Promise<void>): Promise<void> {
    const next = this.writing.then(work, work)
    this.writing = next.catch(() => undefined)
    return next
  }
}

const open_ = (path: string) => open(path, 'w')

function parseEntry(line: string): Entry | undefined {
  if (line.trim() === '') return undefined
  try {
    const value = JSON.parse(line) as { op?: unknown; id?: unknown; task?: unknown }
    if (value.op === 'done' && typeof value.id === 'string') return { op: 'done', id: value.id }
    if (value.op === 'accept') {
      const parsed = taskSchema.safeParse(value.task)
      if (parsed.success) return { op: 'accept', task: parsed.data }
    }
  } catch {
    // a torn last line from a crash mid-write
  }
  return undefined
}
