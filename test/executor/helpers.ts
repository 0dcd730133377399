import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RunRequest } from '../../src/executor/executor.ts'
import type { Json } from '../../src/task/spec.ts'

let counter = 0

/** A run request with test defaults (1 s timeout, first attempt). */
export function request(type: string, input: Json = null, extra: Partial<RunRequest> = {}): RunRequest {
  counter++
  return { taskId: `task-${counter}`, type, input, timeoutMs: 1000, attempt: 1, ...extra }
}

/** What the `sha256` built-in must return, computed here on the main thread. */
export function expectedSha256(data: string, iterations: number): string {
  let digest = createHash('sha256').update(data, 'utf8').digest()
  for (let i = 1; i < iterations; i++) digest = createHash('sha256').update(digest).digest()
  return digest.toString('hex')
}

/** A temporary directory for handler modules; `cleanup` removes it. */
export async function tempModules(): Promise<{
  write(name: string, source: string): Promise<string>
  cleanup(): Promise<void>
}> {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-executor-'))
  return {
    async write(name, source) {
      const file = join(dir, name)
      await writeFile(file, source)
      return file
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
}
