import { rename, rm } from 'node:fs/promises'
import type { AttemptRecord, Task } from '../../task/task.ts'
import { turnEnd } from '../../util/in-turns.ts'
import { openPrivate } from '../wire/private-files.ts'
import {
  APPEND,
  AppendFile,
  type JournalOptions,
  journalError,
  readJournal,
  SYNCED_APPEND,
} from './journal-file.ts'
import {
  acceptLine,
  attemptLine,
  doneLine,
  type JournalDamage,
  type JournalLine,
  noDamage,
  OpenLines,
} from './journal-lines.ts'

/** File name of the task journal inside a data dir. */
export const JOURNAL_FILE = 'tasks.journal'
/**
 * Compact once this many finished entries are in the file — or as many as there are open tasks,
 * when more are open: a compaction rewrites every open task, so its cost stays proportional to the
 * entries it drops (a backlog of 100,000 open tasks was rewritten every 10,000 results).
 */
export const COMPACT_AFTER_DONE = 10_000
/**
 * Longest a `done` entry waits for a write to go out with, ms. A `done` only spares a restart the
 * look-up of a result the node already holds (replay marks done what the store has), so it needs
 * no write, nor sync, of its own: it rides with the next accepted batch, or goes out after this.
 */
export const DONE_LINGER_MS = 100

/**
 * When a journal write counts as done: `sync` once the kernel has put it on the disk (`fsync`: it
 * survives a power cut or a kernel crash), `os` once the kernel has it (it survives `kill -9` of
 * the daemon, not a crash of the machine).
 */
export type Durability = 'sync' | 'os'

/** The default {@link Durability}. */
export const DEFAULT_DURABILITY: Durability = 'sync'

/** What one group commit writes, and who waits for it. */
interface Group {
  lines: JournalLine[]
  done: PromiseWithResolvers<void>
}

/** Counts of what the journal wrote (for the node's accounting). */
export interface JournalStats {
  /** Group commits: one write each (with `sync`, a write that returns once on the disk). */
  writes: number
  /** Entries written (accepts and dones). */
  entries: number
  bytes: number
  syncs: number
  /** Rewrites of the file down to its open tasks. */
  compactions: number
}

/**
 * The owner's journal of accepted-but-unfinished tasks: one JSON line per event (`accept` with
 * the whole task, `done` with its id, `attempt` with a run of the owner's own that its stop cut
 * short). A restarted daemon replays it and requeues what has no `done`, with those runs. A write
 * cut short by a crash leaves at most one torn last line: replay cuts it off before anything is
 * appended, lines that are no entries it skips, and {@link TaskJournal.damage} counts both. A write
 * that fails is cut off before the next one (see {@link AppendFile}). Its errors name the file.
 *
 * Writes are group commits through one long-lived file handle: everything recorded while the
 * previous write is under way goes out in the next one, so many submissions share one sync to the
 * disk, as PostgreSQL's WAL and Redis's AOF do. With `sync` the handle is opened `O_DSYNC`
 * (PostgreSQL's `open_datasync`): each write is synced as it is made. The promise of `accept`/`done` resolves
 * once its group is written (and synced, with `sync` durability).
 */
export class TaskJournal {
  private doneSinceCompact = 0
  /** The file open to append to (see {@link AppendFile}). */
  private readonly file: AppendFile
  private next: Group | undefined
  private writing: Promise<void> = Promise.resolve()
  private busy = false
  /** `done` entries waiting to go out with the next write (see {@link DONE_LINGER_MS}). */
  private lingering: Group | undefined
  private lingerTimer: NodeJS.Timeout | undefined
  /** Runs of open tasks the last {@link replay} found, by task id. */
  private readonly replayedAttempts = new Map<string, AttemptRecord[]>()
  /** The open tasks' lines as the file holds them (see {@link OpenLines}), once {@link known}. */
  private readonly openLines = new OpenLines()
  /** True once `openLines` holds what the file does: it was replayed, or removed, in this life. */
  private known = false
  private found: JournalDamage
  private readonly open: NonNullable<JournalOptions['open']>
  readonly stats: JournalStats = { writes: 0, entries: 0, bytes: 0, syncs: 0, compactions: 0 }

  constructor(
    private readonly path: string,
    private readonly durability: Durability = DEFAULT_DURABILITY,
    options: JournalOptions = {},
  ) {
    this.open = options.open ?? openPrivate
    this.found = noDamage(path)
    const flags = durability === 'sync' ? SYNCED_APPEND : APPEND
    this.file = new AppendFile(path, flags, (cut) => (this.found.tornBytes += cut), this.open)
  }

  /** What the last {@link replay} or open to append found damaged (lines skipped, a torn last line cut). */
  get damage(): Readonly<JournalDamage> {
    return this.found
  }

  /** Reads the journal: the tasks accepted and not finished, in acceptance order (see {@link damage}). */
  async replay(): Promise<Task[]> {
    let tasks: Task[] = []
    await this.exclusive(async () => {
      await this.read()
      tasks = this.openLines.tasks()
    })
    return tasks
  }

  /** {@link replay}, with no write under way. */
  private async read(): Promise<void> {
    await this.file.close()
    const { damage, torn } = await readJournal(this.path, this.openLines, this.replayedAttempts)
    this.found = damage
    // what a crash left of a last line goes now, before a new entry is glued onto it
    if (torn) {
      await this.file.opened()
      await this.file.close()
    }
    this.known = true
  }

  /** The runs the last {@link replay} found journalled for an open task (oldest first). */
  attemptsOf(taskId: string): AttemptRecord[] {
    return this.replayedAttempts.get(taskId) ?? []
  }

  /** Records a run of an owned task that this node's stop cut short. */
  attempt(taskId: string, attempt: AttemptRecord): Promise<void> {
    return this.append([attemptLine(taskId, attempt)])
  }

  /** Records accepted tasks; resolves once their group is written (and synced). */
  accept(tasks: Task[]): Promise<void> {
    return this.append(tasks.map(acceptLine))
  }

  /**
   * Records finished tasks (a result exists); compacts now and then. The entries go out with the
   * next write, or within {@link DONE_LINGER_MS}; the promise resolves once they are written.
   */
  done(ids: string[]): Promise<void> {
    this.doneSinceCompact += ids.length
    if (ids.length === 0) return this.lingering?.done.promise ?? this.writing
    if (this.lingering === undefined) {
      this.lingering = { lines: [], done: Promise.withResolvers<void>() }
      this.lingering.done.promise.catch(() => undefined) // a caller that does not wait sees nothing
      this.lingerTimer = setTimeout(() => this.append([]), DONE_LINGER_MS).unref()
    }
    for (const id of ids) this.lingering.lines.push(doneLine(id))
    return this.lingering.done.promise
  }

  /**
   * Rewrites the journal with only the open tasks (temp file + rename, so a crash keeps one whole
   * file): their lines as kept in memory, the file read first only when this life has not.
   */
  async compact(): Promise<void> {
    await this.exclusive(async () => {
      await this.file.close()
      if (!this.known) await this.read()
      const lines = this.openLines.lines()
      const tmp = `${this.path}.compact`
      try {
        const handle = await this.open(tmp, 'w')
        try {
          await handle.writeFile(lines.map((line) => `${line}\n`).join(''))
          await handle.sync()
        } finally {
          await handle.close()
        }
        await rename(tmp, this.path)
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => undefined)
        throw journalError(this.path, 'cannot compact', err)
      }
      this.stats.compactions++
    })
  }

  /** Resolves once every write started so far, and every `done` recorded, has ended. */
  async flush(): Promise<void> {
    if (this.lingering !== undefined) void this.append([])
    // a group not started yet starts at the end of the turn: wait for it, not for the last write
    while (this.next !== undefined || this.busy)
      await (this.next?.done.promise ?? this.writing).catch(() => undefined)
  }

  /** Writes what is pending and closes the file. Safe to call twice. */
  async close(): Promise<void> {
    await this.flush()
    await this.exclusive(() => this.file.close())
  }

  /** Deletes the journal (tests and `--reset`); `done` entries not written yet go with it. */
  async remove(): Promise<void> {
    const lingering = this.lingering
    this.lingering = undefined
    clearTimeout(this.lingerTimer)
    lingering?.done.resolve()
    await this.exclusive(async () => {
      await this.file.close()
      await rm(this.path, { force: true }).catch((err) => {
        throw journalError(this.path, 'cannot remove', err)
      })
      this.openLines.clear()
      this.known = true
    })
  }

  /** Queues `lines` for the next group commit, with the `done` entries waiting (`[]`: those alone). */
  private append(lines: JournalLine[]): Promise<void> {
    const lingering = this.lingering
    if (lingering !== undefined) {
      this.lingering = undefined
      clearTimeout(this.lingerTimer)
    }
    const all = lingering === undefined ? lines : [...lingering.lines, ...lines]
    if (all.length === 0) return this.next?.done.promise ?? this.writing
    if (this.next === undefined) {
      this.next = { lines: [], done: Promise.withResolvers<void>() }
      this.next.done.promise.catch(() => undefined) // a caller that does not wait sees nothing
      // written at the end of the turn: what the turn sends (an offer, an answer) leaves first, and
      // every entry of the turn shares the write
      if (!this.busy) void turnEnd().then(() => this.pump())
    }
    for (const line of all) this.next.lines.push(line)
    if (lingering !== undefined) this.next.done.promise.then(lingering.done.resolve, lingering.done.reject)
    return this.next.done.promise
  }

  /** Writes the pending group; while it is written, the next one gathers. */
  private pump(): void {
    if (this.busy || this.next === undefined) return
    const group = this.next
    this.next = undefined
    this.busy = true
    this.writing = this.writeGroup(group).then(group.done.resolve, group.done.reject)
    void this.writing.finally(() => {
      this.busy = false
      // judged once the group is in the file (and its entries among the open lines)
      if (this.doneSinceCompact >= Math.max(COMPACT_AFTER_DONE, this.openLines.size)) {
        this.doneSinceCompact = 0
        void this.compact().catch(() => undefined)
      }
      if (this.next !== undefined) this.pump()
    })
  }

  /** Writes a group (see {@link AppendFile.append}): its promise resolves once it is all written. */
  private async writeGroup(group: Group): Promise<void> {
    const text = `${group.lines.map((line) => line.text).join('\n')}\n`
    // with `sync`, the file is open with O_DSYNC: the write returns once its data is on the disk,
    // as a write then fdatasync did, in one call to the thread pool instead of two (each of which
    // waited for the event loop to hand it on: on a busy node, that wait was part of every submit)
    const bytes = await this.file.append(text)
    for (const line of group.lines) this.openLines.written(line)
    this.stats.writes++
    this.stats.entries += group.lines.length
    this.stats.bytes += bytes
    if (this.durability === 'sync') this.stats.syncs++
  }

  /** Runs `work` with no group write under way (compaction, close, remove). */
  private async exclusive(work: () => Promise<void>): Promise<void> {
    while (this.busy) await this.writing.catch(() => undefined)
    this.busy = true
    const run = (async () => {
      try {
        await work()
      } finally {
        this.busy = false
        if (this.next !== undefined) this.pump()
      }
    })()
    // what waits while the journal is busy waits for this work (it never rejects, as a write's
    // promise does not): left at the last write, already settled, a flush during a compaction
    // awaited it again and again without ever yielding to the compaction's I/O
    this.writing = run.catch(() => undefined)
    await run
  }
}
