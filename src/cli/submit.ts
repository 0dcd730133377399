import { readFile } from 'node:fs/promises'
import { openTarget, type TargetOptions } from './target.ts'

/** Flags of `taskmesh submit`. */
export interface SubmitFlags extends TargetOptions {
  input?: string
  file?: string
  priority?: number
  timeout?: number
  attempts?: number
  labels?: string
  slots?: number
  wait: boolean
  waitMs: number
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new Error(`${where} is not valid JSON: ${(err as Error).message}`)
  }
}

/** Builds the specs from the flags (one task) or from `--file` (a JSON array or `{ tasks }`). */
export async function specsFromFlags(type: string | undefined, flags: SubmitFlags): Promise<unknown[]> {
  if (flags.file !== undefined) {
    const body = parseJson(await readFile(flags.file, 'utf8'), flags.file) as { tasks?: unknown }
    const list = Array.isArray(body) ? body : body?.tasks
    if (!Array.isArray(list))
      throw new Error(`${flags.file}: expected a JSON array of task specs or { "tasks": [...] }`)
    return list
  }
  if (type === undefined) throw new Error('name a handler type (taskmesh submit <type>) or pass --file')
  const spec: Record<string, unknown> = { type }
  if (flags.input !== undefined) spec.input = parseJson(flags.input, '--input')
  if (flags.priority !== undefined) spec.priority = flags.priority
  if (flags.timeout !== undefined) spec.timeoutMs = flags.timeout
  if (flags.attempts !== undefined) spec.maxAttempts = flags.attempts
  if (flags.labels !== undefined || flags.slots !== undefined) {
    spec.resources = {
      ...(flags.slots === undefined ? {} : { slots: flags.slots }),
      ...(flags.labels === undefined ? {} : { labels: flags.labels.split(',').filter((l) => l.length > 0) }),
    }
  }
  return [spec]
}

/** `taskmesh submit`: prints one task id per line; with `--wait`, then each result as JSON. */
export async function runSubmit(type: string | undefined, flags: SubmitFlags): Promise<void> {
  const specs = await specsFromFlags(type, flags)
  const target = await openTarget(flags)
  try {
    const ids = await target.submit(specs)
    for (const id of ids) console.log(id)
    if (flags.wait) {
      for (const id of ids) {
        const record = await target.result(id, flags.waitMs)
        console.log(JSON.stringify(record ?? { taskId: id, status: 'pending' }))
      }
    }
  } finally {
    await target.close()
  }
}
