import { readFile } from 'node:fs/promises'
import type { Execution } from '../../src/chaos/history.ts'
import type { LogLine } from './recording-handlers.js'

/**
 * Pairs the `start` and `end` lines of one node's execution log into runs. A run of a life that
 * died (or is still frozen) has no `end`. Lines that do not parse (none should: each is one
 * write(2)) are skipped.
 */
export function parseExecutionLog(node: string, text: string): Execution[] {
  const runs: Execution[] = []
  const open = new Map<string, Execution[]>()
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue
    let line: LogLine
    try {
      line = JSON.parse(raw) as LogLine
    } catch {
      continue
    }
    const slot = `${line.pid} ${line.taskId}`
    if (line.event === 'start') {
      const run: Execution = {
        node,
        incarnation: line.pid,
        taskId: line.taskId,
        key: line.key,
        startedAt: line.at,
      }
      runs.push(run)
      open.set(slot, [...(open.get(slot) ?? []), run])
    } else {
      const pending = open.get(slot)
      const run = pending?.shift()
      if (run !== undefined) run.endedAt = line.at
    }
  }
  return runs
}

/** Reads one node's execution log (no file: no runs). */
export async function readExecutionLog(node: string, file: string): Promise<Execution[]> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return ''
    throw err
  })
  return parseExecutionLog(node, text)
}
