import { taskSchema } from '../../protocol/messages/task-schema.ts'
import { attemptSchema } from '../../protocol/records/result-record-schema.ts'
import { type AttemptRecord, type Task, taskJson, taskText } from '../../task/task.ts'

/** An entry of the journal, parsed. */
export type Entry =
  | { op: 'accept'; task: Task }
  | { op: 'done'; id: string }
  | { op: 'attempt'; id: string; attempt: AttemptRecord }

/** One line of the journal: its text (JSON, no newline), the task it is about and, for an accept, the task. */
export interface JournalLine {
  op: Entry['op']
  id: string
  text: string
  task?: Task
}

/** The line of an `accept` entry. */
export function acceptLine(task: Task): JournalLine {
  return { op: 'accept', id: task.id, text: acceptText(task), task }
}

/** `JSON.stringify({ op: 'accept', task })`, with the task's text made once (see `taskText`). */
function acceptText(task: Task): string {
  return `{"op":"accept","task":${taskText(task)}}`
}

/** {@link acceptText} for a compaction: the task's text is not kept for it (see `taskJson`). */
function compactedAcceptText(task: Task): string {
  return `{"op":"accept","task":${taskJson(task)}}`
}

/** The line of a `done` entry. */
export function doneLine(id: string): JournalLine {
  return { op: 'done', id, text: JSON.stringify({ op: 'done', id }) }
}

/** The line of an `attempt` entry. */
export function attemptLine(id: string, attempt: AttemptRecord): JournalLine {
  return { op: 'attempt', id, text: JSON.stringify({ op: 'attempt', id, attempt }) }
}

/** A line of the file as replay reads it; undefined for a blank, torn or invalid line. */
export function parseEntry(line: string): Entry | undefined {
  if (line.trim() === '') return undefined
  try {
    const value = JSON.parse(line) as { op?: unknown; id?: unknown; task?: unknown }
    if (value.op === 'done' && typeof value.id === 'string') return { op: 'done', id: value.id }
    if (value.op === 'attempt' && typeof value.id === 'string') {
      const parsed = attemptSchema.safeParse((value as { attempt?: unknown }).attempt)
      if (parsed.success) return { op: 'attempt', id: value.id, attempt: parsed.data }
    }
    if (value.op === 'accept') {
      const parsed = taskSchema.safeParse(value.task)
      if (parsed.success) return { op: 'accept', task: parsed.data }
    }
  } catch {
    // a torn last line from a crash mid-write
  }
  return undefined
}

/** What a replay of the journal found damaged in its file (none of it stops the replay). */
export interface JournalDamage {
  /** The journal file. */
  path: string
  /** Lines that are not journal entries (garbage, an accept whose task does not parse): skipped. */
  skipped: number
  /** 1-based numbers of the first skipped lines (at most {@link MAX_REPORTED_LINES}). */
  skippedLines: number[]
  /** Bytes of a torn last line (a crash mid-append) cut off the file; 0 when there was none. */
  tornBytes: number
}

/** Most line numbers a {@link JournalDamage} lists. */
export const MAX_REPORTED_LINES = 5

/** A {@link JournalDamage} of nothing, for `path`. */
export function noDamage(path: string): JournalDamage {
  return { path, skipped: 0, skippedLines: [], tornBytes: 0 }
}

/** Counts line `number` as skipped in `damage`. */
export function noteSkipped(damage: JournalDamage, number: number): void {
  damage.skipped++
  if (damage.skippedLines.length < MAX_REPORTED_LINES) damage.skippedLines.push(number)
}

/** What to log of `damage`: one message per kind found, none when it is {@link noDamage}. */
export function journalDamageMessages(damage: JournalDamage): string[] {
  const messages: string[] = []
  const { path, skipped, skippedLines, tornBytes } = damage
  if (skipped > 0) {
    const lines = skipped === 1 ? 'line' : 'lines'
    const more = skipped > skippedLines.length ? ` and ${skipped - skippedLines.length} more` : ''
    const which = `${lines} ${skippedLines.join(', ')}${more}`
    const lost = skipped === 1 ? 'its task cannot be replayed' : 'their tasks cannot be replayed'
    messages.push(`journal: skipped ${skipped} damaged ${lines} (${which}) of ${path}; ${lost}`)
  }
  if (tornBytes > 0)
    messages.push(`journal: cut a torn last line (${tornBytes} bytes) of ${path} left by a crash`)
  return messages
}

/**
 * What a replay of the journal file keeps, kept in memory as the file is written: per task accepted
 * and not done, the task (the object the node holds anyway, not its text) and the `attempt` lines
 * after its accept, in acceptance order. Compaction writes these instead of reading the whole file
 * back and parsing every line (each `accept` through the task schema) — on the owner's event loop,
 * with no group commit going out meanwhile, every `COMPACT_AFTER_DONE` tasks.
 */
export class OpenLines {
  private readonly open = new Map<string, { task: Task; attempts: string[] }>()

  /** Takes `line` as written to the file, with replay's rules: a later accept keeps the earlier runs. */
  written(line: JournalLine): void {
    if (line.op === 'done') {
      this.open.delete(line.id)
      return
    }
    const entry = this.open.get(line.id)
    if (line.op === 'accept') {
      if (line.task === undefined) return
      if (entry === undefined) this.open.set(line.id, { task: line.task, attempts: [] })
      else entry.task = line.task
    } else entry?.attempts.push(line.text)
  }

  /** Forgets every line (the file is gone, or about to be read again). */
  clear(): void {
    this.open.clear()
  }

  /** Tasks open. */
  get size(): number {
    return this.open.size
  }

  /** True when the task is open. */
  has(id: string): boolean {
    return this.open.has(id)
  }

  /** The open tasks, in acceptance order. */
  tasks(): Task[] {
    return [...this.open.values()].map((entry) => entry.task)
  }

  /** Every open line: each task's accept, then its attempts, tasks in acceptance order. */
  lines(): string[] {
    const out: string[] = []
    for (const { task, attempts } of this.open.values()) {
      out.push(compactedAcceptText(task))
      for (const line of attempts) out.push(line)
    }
    return out
  }
}
