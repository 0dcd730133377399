import { constants, createReadStream } from 'node:fs'
import { type FileHandle, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { AttemptRecord } from '../../task/task.ts'
import { openPrivate, PRIVATE_DIR_MODE } from '../wire/private-files.ts'
import {
  type Entry,
  type JournalDamage,
  noDamage,
  noteSkipped,
  type OpenLines,
  parseEntry,
} from './journal-lines.ts'

/** Options of a `TaskJournal` beyond its path and durability. */
export interface JournalOptions {
  /**
   * Opens the journal's files; for tests, which hand the journal a handle whose writes fall short or
   * fail. @defaultValue `openPrivate` (files it makes: the owner's only)
   */
  open?: (path: string, flags: string | number) => Promise<FileHandle>
}

/**
 * The journal file open to append to, through one long-lived handle opened on the first write; a torn
 * last line a crash left is cut off as it opens (see `mendTail`). A write is all written (a short
 * write is followed by more for the rest) or throws; then what it wrote is cut off before the next
 * write, which starts with a newline when that fails: no entry is glued onto torn bytes.
 */
export class AppendFile {
  private handle: FileHandle | undefined
  /** Length of the file after the last write, when known: a failed write is cut back to it. */
  private size: number | undefined
  /** The last write failed: the file may end in a torn line. */
  private torn = false

  /**
   * @param flags - how to open the file: to append, and to read (its last byte is read on opening)
   * @param onCut - told the bytes of a torn last line cut off on opening
   */
  constructor(
    private readonly path: string,
    private readonly flags: string | number,
    private readonly onCut: (bytes: number) => void,
    private readonly open: NonNullable<JournalOptions['open']> = openPrivate,
  ) {}

  /** Appends `text`, all of it, or throws an error naming the file; returns the bytes written. */
  async append(text: string): Promise<number> {
    const handle = this.handle ?? (await this.opened())
    if (this.torn) text = await this.cutTorn(handle, text)
    const bytes = Buffer.byteLength(text)
    try {
      await writeAll(handle, text, bytes)
    } catch (err) {
      this.torn = true
      throw journalError(this.path, 'cannot write', err)
    }
    // unknown only once torn bytes could not be cut: read then, and counted on from there
    this.size = this.size === undefined ? await sizeOf(handle) : this.size + bytes
    return bytes
  }

  /** Opens the file, when it is not open, a torn last line cut off first. */
  async opened(): Promise<FileHandle> {
    if (this.handle !== undefined) return this.handle
    const handle = await this.open(this.path, this.flags).catch((err) => {
      throw journalError(this.path, 'cannot open', err)
    })
    try {
      const { size, cut } = await mendTail(handle)
      if (cut > 0) this.onCut(cut)
      this.size = size
      this.torn = false
      this.handle = handle
      return handle
    } catch (err) {
      await handle.close().catch(() => undefined)
      throw journalError(this.path, 'cannot cut its torn last line', err)
    }
  }

  /** Closes the file (the torn bytes of a failed write cut off first, when they can be). */
  async close(): Promise<void> {
    const handle = this.handle
    if (handle === undefined) return
    this.handle = undefined
    if (this.torn && this.size !== undefined) await handle.truncate(this.size).catch(() => undefined)
    this.torn = false
    this.size = undefined
    await handle.close().catch((err) => {
      throw journalError(this.path, 'cannot close', err)
    })
  }

  /** Cuts what a failed write left off the file; when it cannot, `text` starts on a line of its own. */
  private async cutTorn(handle: FileHandle, text: string): Promise<string> {
    this.torn = false
    const size = this.size
    const cut = size !== undefined && (await handle.truncate(size).then(yes, no))
    if (cut) return text
    this.size = undefined
    return `\n${text}`
  }
}

const yes = () => true
const no = () => false

/**
 * `err` as an error that names the journal and what failed (`journal /x/tasks.journal: cannot write:
 * ENOSPC: …`), with `err` as its `cause` and its `code`; an error that names it already as it is.
 */
export function journalError(path: string, what: string, err: unknown): NodeJS.ErrnoException {
  const prefix = `journal ${path}: `
  if (err instanceof Error && err.message.startsWith(prefix)) return err
  const message = err instanceof Error ? err.message : String(err)
  const wrapped: NodeJS.ErrnoException = new Error(`${prefix}${what}: ${message}`, { cause: err })
  const { code, errno, syscall } = (err ?? {}) as NodeJS.ErrnoException
  if (code !== undefined) wrapped.code = code
  if (errno !== undefined) wrapped.errno = errno
  if (syscall !== undefined) wrapped.syscall = syscall
  wrapped.path = path
  return wrapped
}

/** Append, and every write synced to the disk before it returns (`O_DSYNC`, as fdatasync after it). */
export const SYNCED_APPEND = constants.O_RDWR | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC
/** Append, as the kernel gets it. Open for reading too: a torn last line is looked for on opening. */
export const APPEND = 'a+'

const NEWLINE = 0x0a
/** Bytes read at a time looking back for the start of a torn last line. */
const BACK_CHUNK = 64 * 1024
/** Longest torn last line read to see whether it is a whole entry (longer: cut unread). */
const MAX_WHOLE_TAIL = 256 * 1024 * 1024

/**
 * Reads the journal file at `path` (its directory made when missing) into `open`, and the runs of its
 * open tasks into `attempts`, both cleared first: what a replay finds. Lines that are not entries are
 * skipped, and counted in the `damage` returned; `torn` when the file ends in a line without its newline
 * (taken when it is a whole entry, else left for {@link AppendFile} to cut off).
 */
export async function readJournal(
  path: string,
  open: OpenLines,
  attempts: Map<string, AttemptRecord[]>,
): Promise<{ damage: JournalDamage; torn: boolean }> {
  await mkdir(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE }).catch((err) => {
    throw journalError(path, 'cannot create its directory', err)
  })
  open.clear()
  attempts.clear()
  const damage = noDamage(path)
  const ending = await readLines(path, (line, number, whole) => {
    const entry = parseEntry(line)
    if (entry !== undefined) replayed(open, attempts, entry, line)
    else if (whole && line.trim() !== '') noteSkipped(damage, number)
  })
  return { damage, torn: ending === 'torn' }
}

/** Takes an entry replay read: the open tasks are what `open` keeps, by the rules of compaction. */
function replayed(open: OpenLines, attempts: Map<string, AttemptRecord[]>, entry: Entry, line: string) {
  if (entry.op === 'accept') {
    open.written({ op: 'accept', id: entry.task.id, text: line, task: entry.task })
    return
  }
  open.written({ op: entry.op, id: entry.id, text: line })
  if (entry.op === 'done') attempts.delete(entry.id)
  else if (open.has(entry.id)) {
    const runs = attempts.get(entry.id) ?? []
    runs.push(entry.attempt)
    attempts.set(entry.id, runs)
  }
}

/**
 * Calls `onLine` on each line of the file at `path` (its text, without the newline, and its 1-based
 * number); on a last line without its newline last, with `whole` false. Resolves to `none` when there
 * is no file, `torn` when it ends in such a line, else `whole`.
 */
async function readLines(
  path: string,
  onLine: (text: string, number: number, whole: boolean) => void,
): Promise<'none' | 'whole' | 'torn'> {
  let number = 0
  let rest: Buffer[] = []
  try {
    for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
      let start = 0
      for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
        const piece = chunk.subarray(start, end)
        const line = rest.length === 0 ? piece : Buffer.concat([...rest, piece])
        rest = []
        onLine(line.toString('utf8'), ++number, true)
        start = end + 1
      }
      if (start < chunk.length) rest.push(chunk.subarray(start))
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none'
    throw journalError(path, 'cannot read', err)
  }
  if (rest.length === 0) return 'whole'
  onLine(Buffer.concat(rest).toString('utf8'), ++number, false)
  return 'torn'
}

/**
 * Mends the end of the file open (for reading and appending) as `handle`: a last line without its
 * newline — a crash mid-append — is cut off, unless it is a whole entry (the crash came just before its
 * newline), which gets its newline. Either way the next entry appended starts on a line of its own.
 * Returns the file's length after, and the bytes cut (0 when nothing was). Two syscalls when the file
 * is sound (stat, and a read of its last byte).
 */
async function mendTail(handle: FileHandle): Promise<{ size: number; cut: number }> {
  const { size } = await handle.stat()
  if (size === 0) return { size, cut: 0 }
  const last = Buffer.alloc(1)
  await readFully(handle, last, size - 1)
  if (last[0] === NEWLINE) return { size, cut: 0 }
  const start = await lastLineStart(handle, size)
  if (size - start <= MAX_WHOLE_TAIL) {
    const tail = Buffer.alloc(size - start)
    await readFully(handle, tail, start)
    if (parseEntry(tail.toString('utf8')) !== undefined) {
      await writeAll(handle, '\n', 1)
      await handle.datasync()
      return { size: size + 1, cut: 0 }
    }
  }
  await handle.truncate(start)
  await handle.datasync()
  return { size: start, cut: size - start }
}

/** Where the last line of a file of `size` bytes starts: after its last newline, or at 0. */
async function lastLineStart(handle: FileHandle, size: number): Promise<number> {
  const chunk = Buffer.alloc(Math.min(BACK_CHUNK, size))
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - chunk.length)
    const bytes = chunk.subarray(0, end - start)
    await readFully(handle, bytes, start)
    const at = bytes.lastIndexOf(NEWLINE)
    if (at !== -1) return start + at + 1
    end = start
  }
  return 0
}

async function readFully(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
  for (let at = 0; at < buffer.length; ) {
    const { bytesRead } = await handle.read(buffer, at, buffer.length - at, position + at)
    if (bytesRead === 0) throw new Error(`the file ended at ${position + at} bytes while read`)
    at += bytesRead
  }
}

/**
 * Appends `text` (of `bytes` bytes) through `handle`: one write, and more for the rest when it writes
 * fewer bytes than asked (a nearly full disk), until all is written or one throws.
 */
async function writeAll(handle: FileHandle, text: string, bytes: number): Promise<void> {
  const { bytesWritten } = await handle.write(text)
  if (bytesWritten >= bytes) return
  const buffer = Buffer.from(text)
  for (let at = bytesWritten; at < buffer.length; ) {
    const written = (await handle.write(buffer, at, buffer.length - at)).bytesWritten
    if (written <= 0) throw new Error(`wrote ${at} of ${buffer.length} bytes, then none`)
    at += written
  }
}

/** The length of the file open as `handle`; undefined when it cannot be read. */
async function sizeOf(handle: FileHandle): Promise<number | undefined> {
  return handle.stat().then(
    (stats) => stats.size,
    () => undefined,
  )
}
