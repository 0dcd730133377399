import { isUtf8 } from 'node:buffer'
import { readFile } from 'node:fs/promises'
import { parseGraphItem } from '../../node/owner/submission.ts'
import { MAX_FRAME_BYTES } from '../../protocol/constants.ts'
import { RemoteError } from '../../protocol/errors.ts'
import type { ResultRecord } from '../../protocol/records/result-record.ts'
import { InvalidTaskError } from '../../task/errors.ts'
import { MAX_TASKS_PER_SUBMISSION } from '../../task/limits.ts'
import { parseTaskSpec } from '../../task/spec.ts'
import { EXIT_NO_RESULT, EXIT_TASK_FAILED, isStopping } from '../exit-codes.ts'
import { waitMsOf } from '../flag-errors.ts'
import { parseUserJson } from './json-text.ts'
import { pendingStates, stateText, warnUnschedulable } from './pending-states.ts'
import { waitProgress } from './progress.ts'
import { openTarget, type TargetOptions } from './target.ts'

/** Flags of `taskmesh submit`. */
export interface SubmitFlags extends TargetOptions {
  input?: string
  file?: string
  priority?: number
  timeout?: number
  attempts?: number
  labels?: string[]
  slots?: number
  wait: boolean
  waitMs?: number
  /** With `wait`: progress on stderr when waiting for several tasks. @defaultValue true */
  progress?: boolean
}

/** The flag that sets each spec field (after `task` or `tasks[0]`), to name it in errors. */
const FLAG_OF_FIELD: Array<[suffix: string, flag: string]> = [
  ['.type', '<type>'],
  ['.input', '--input'],
  ['.priority', '--priority'],
  ['.timeoutMs', '--timeout'],
  ['.maxAttempts', '--attempts'],
  ['.resources.slots', '--slots'],
  ['.resources.labels', '--labels'],
]

/** The flag that set `field` of the one spec built from the flags (`task.input`, `tasks[0].input`). */
function flagOf(field: string): string | undefined {
  const rest = field.replace(/^tasks?(\[0\])?/, '')
  return FLAG_OF_FIELD.find(
    ([suffix]) => rest === suffix || rest.startsWith(`${suffix}.`) || rest.startsWith(`${suffix}[`),
  )?.[1]
}

/**
 * A node's refusal of the one spec built from the flags, its field said as the flag that set it
 * (`--input: sleep: input must be …`); the handler type's refusal without a field.
 */
function asFlagError(err: RemoteError): RemoteError {
  const field = /^(tasks\[0\][^:]*): /.exec(err.message)?.[1]
  const flag = field === undefined ? undefined : flagOf(field)
  if (field === undefined || flag === undefined) return err
  const reason = err.message.slice(field.length + 2)
  return new RemoteError(err.code, flag === '<type>' ? reason : `${flag}: ${reason}`)
}

/** The file's text; bytes that are not UTF-8 are refused with their offset (decoding would replace them). */
function utf8Text(file: string, bytes: Buffer): string {
  if (isUtf8(bytes)) return bytes.toString('utf8')
  const lossy = bytes.toString('utf8') // each bad sequence became U+FFFD; the text before it is whole
  const at = Buffer.byteLength(lossy.slice(0, Math.max(0, lossy.indexOf('\uFFFD'))))
  throw new Error(`--file ${file}: not UTF-8 text (a bad byte at offset ${at}): save it as UTF-8`)
}

function specsFromFile(file: string, text: string): unknown[] {
  // a byte-order mark some editors write is no part of the JSON
  const body = parseUserJson(text.replace(/^\uFEFF/, ''), `--file ${file}`, 'tasks') as {
    tasks?: unknown
  } | null
  const extra =
    Array.isArray(body) || body === null ? undefined : Object.keys(body).find((k) => k !== 'tasks')
  if (extra !== undefined && !('tasks' in (body as object)) && 'type' in (body as object))
    throw new Error(`--file ${file}: one task spec, not a list: put it in a list ([{"type": …}])`)
  if (extra !== undefined)
    throw new Error(`--file ${file}: unknown key "${extra}": a file of tasks takes only "tasks"`)
  const list = Array.isArray(body) ? body : body?.tasks
  if (!Array.isArray(list)) {
    throw new Error(`--file ${file}: expected a JSON array of task specs or { "tasks": [...] }`)
  }
  if (list.length === 0) throw new Error(`--file ${file}: the list of tasks is empty`)
  if (list.length > MAX_TASKS_PER_SUBMISSION) {
    throw new Error(
      `--file ${file}: ${list.length} tasks, over the limit of ${MAX_TASKS_PER_SUBMISSION} a submission: split the file`,
    )
  }
  const bytes = Buffer.byteLength(JSON.stringify({ tasks: list }))
  if (bytes > MAX_FRAME_BYTES) {
    throw new Error(
      `--file ${file}: the tasks take ${bytes} bytes as JSON, over the limit of ${MAX_FRAME_BYTES} a submission: split the file`,
    )
  }
  for (const [i, raw] of list.entries()) {
    try {
      parseGraphItem(raw, `tasks[${i}]`)
    } catch (err) {
      if (err instanceof InvalidTaskError) throw new Error(`--file ${file}: ${err.message}`)
      throw err
    }
  }
  return list
}

/**
 * Builds the specs from the flags (one task) or from `--file` (a JSON array or `{ tasks }`), and
 * checks them as the node will, so a bad spec is refused here naming the flag or the file entry.
 * The node checks them again (and knows which handler types exist).
 */
export async function specsFromFlags(type: string | undefined, flags: SubmitFlags): Promise<unknown[]> {
  if (flags.file !== undefined) {
    const perTask = (
      [
        ['--input', flags.input],
        ['--priority', flags.priority],
        ['--timeout', flags.timeout],
        ['--attempts', flags.attempts],
        ['--labels', flags.labels],
        ['--slots', flags.slots],
      ] as const
    ).filter(([, v]) => v !== undefined)
    if (type !== undefined || perTask.length > 0) {
      const given = [...(type === undefined ? [] : [`type "${type}"`]), ...perTask.map(([f]) => f)]
      throw new Error(
        `--file cannot be combined with ${given.join(', ')}: put those fields in the file's specs`,
      )
    }
    let bytes: Buffer
    try {
      bytes = await readFile(flags.file)
    } catch (err) {
      throw new Error(`--file: cannot read ${flags.file}: ${(err as Error).message}`)
    }
    return specsFromFile(flags.file, utf8Text(flags.file, bytes))
  }
  if (type === undefined) throw new Error('name a handler type (taskmesh submit <type>) or pass --file')
  const spec: Record<string, unknown> = { type }
  if (flags.input !== undefined) spec.input = parseUserJson(flags.input, '--input')
  if (flags.priority !== undefined) spec.priority = flags.priority
  if (flags.timeout !== undefined) spec.timeoutMs = flags.timeout
  if (flags.attempts !== undefined) spec.maxAttempts = flags.attempts
  if (flags.labels !== undefined || flags.slots !== undefined) {
    spec.resources = {
      ...(flags.slots === undefined ? {} : { slots: flags.slots }),
      ...(flags.labels === undefined ? {} : { labels: flags.labels }),
    }
  }
  try {
    parseTaskSpec(spec, 'task')
  } catch (err) {
    if (!(err instanceof InvalidTaskError)) throw err
    const flag = err.field === undefined ? undefined : flagOf(err.field)
    if (flag === '<type>') {
      const reason = err.message.slice(`${err.field}: `.length)
      throw new Error(`handler type "${type}" is not valid: ${reason}`)
    }
    throw new Error(flag === undefined ? err.message : `${flag}: ${err.message}`)
  }
  return [spec]
}

/**
 * `taskmesh submit`: prints one task id per line; with `--wait`, then one result record per
 * line (compact JSON, in submission order), with progress on stderr for several tasks (a bar on a
 * terminal, plain lines otherwise; `--no-progress` turns it off). A task whose result did not land within `--wait-ms`
 * gets `{"taskId":…,"status":"pending"}` and the exit code is {@link EXIT_NO_RESULT} — as when the
 * node begins to stop (`ERR_STOPPING`) before every result is in: the tasks were accepted; a task that
 * failed (or was cancelled) makes it {@link EXIT_TASK_FAILED}, whatever else.
 */
export async function runSubmit(type: string | undefined, flags: SubmitFlags): Promise<void> {
  if (flags.progress === false && !flags.wait) throw new Error('--no-progress applies only with --wait')
  const waitMs = waitMsOf(flags)
  const specs = await specsFromFlags(type, flags)
  const target = await openTarget(flags)
  try {
    let ids: string[]
    try {
      ids = await target.submit(specs)
    } catch (err) {
      throw flags.file === undefined && err instanceof RemoteError ? asFlagError(err) : err
    }
    for (const id of ids) console.log(id)
    if (!flags.wait) return
    const landed = new Map<string, ResultRecord>()
    let next = 0
    const flush = () => {
      while (next < ids.length && landed.has(ids[next])) {
        console.log(JSON.stringify(landed.get(ids[next])))
        next++
      }
    }
    const signal = AbortSignal.timeout(waitMs)
    const progress = waitProgress(ids.length, { enabled: flags.progress !== false })
    const look = warnUnschedulable(target, () => ids.filter((id) => !landed.has(id)), signal)
    // the node began to stop after it accepted the tasks: they are queued, their results not in
    let stopping: RemoteError | undefined
    try {
      for await (const record of target.watch(ids, signal)) {
        if (!landed.has(record.taskId)) progress.landed(record.status)
        landed.set(record.taskId, record)
        flush()
      }
    } catch (err) {
      if (isStopping(err)) stopping = err
      else if (!signal.aborted) throw err
    } finally {
      clearTimeout(look)
      progress.stop()
    }
    const missing = ids.filter((id) => !landed.has(id))
    // how the first tasks not in stand, as `taskmesh result` tells it
    const states = stopping === undefined ? await pendingStates(target, missing) : new Map()
    for (const id of ids.slice(next)) {
      const record = landed.get(id)
      console.log(JSON.stringify(record ?? { taskId: id, status: 'pending', ...states.get(id) }))
    }
    const failed = [...landed.values()].filter((r) => r.status === 'failed')
    if (missing.length > 0) {
      const first = states.get(missing[0])
      const standing = first === undefined ? '' : ` (${stateText(missing[0], first)})`
      console.error(
        stopping === undefined
          ? `${missing.length} of ${ids.length} results did not land within ${waitMs} ms${standing}`
          : `${missing.length} of ${ids.length} results not in: ${stopping.message} (${stopping.code})`,
      )
      process.exitCode = EXIT_NO_RESULT
    }
    if (failed.length > 0) {
      const first = failed[0]
      console.error(
        `${failed.length} of ${ids.length} tasks failed (${first.taskId}: ${first.error ?? 'failed'})`,
      )
      process.exitCode = EXIT_TASK_FAILED
    }
  } finally {
    await target.close()
  }
}
