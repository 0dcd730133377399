/** Tasks and a temporary journal path for the journal's tests. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach } from 'vitest'
import { parseTaskSpec } from '../../../src/task/spec.ts'
import type { Task } from '../../../src/task/task.ts'
import { taskId } from '../../../src/task/task-id.ts'

export const OWNER = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK'

/** Task `n` of OWNER (a sleep of `n` ms). */
export function task(n: number): Task {
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

/** A fresh journal path per test (its directory removed after), as `paths.path`. */
export function journalPaths(): { dir: string; path: string } {
  const paths = { dir: '', path: '' }
  beforeEach(async () => {
    paths.dir = await mkdtemp(join(tmpdir(), 'taskmesh-journal-'))
    paths.path = join(paths.dir, 'tasks.journal')
  })
  afterEach(async () => {
    await rm(paths.dir, { recursive: true, force: true })
  })
  return paths
}
