import { access, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'vitest'
import { type CliRun, runCli } from '../../scripts/chaos/cli-process.ts'

/** A daemon's status as the CLI and the HTTP API print it (the fields the daemon tests read). */
export interface Status {
  peerId: string
  slots: number
  queued: number
  running: number
  peers: Array<{ peerId: string; types: string[] }>
  counters: { accepted: number; executed: number }
}

/** Asserts the command succeeded (showing its stderr when it did not). */
export function ok(run: CliRun): CliRun {
  expect(run.stderr, `stderr of a command that should succeed`).toBe('')
  expect(run.code).toBe(0)
  return run
}

export async function status(dir: string): Promise<Status> {
  return JSON.parse(ok(await runCli(['status', '--data-dir', dir])).stdout) as Status
}

/** The daemon's status straight from its HTTP API (for checks around the command under test). */
export async function apiStatus(dir: string): Promise<Status> {
  const { url, token } = JSON.parse(await readFile(join(dir, 'api.json'), 'utf8')) as {
    url: string
    token: string
  }
  const res = await fetch(`${url}/status`, { headers: { authorization: `Bearer ${token}` } })
  expect(res.status).toBe(200)
  return (await res.json()) as Status
}

/** Polls the daemon's HTTP status (every 100 ms, at most 20 s) until it lists `peers`. */
export async function peersListed(dir: string, peers: string[]): Promise<void> {
  const want = [...peers].sort().join()
  const deadline = Date.now() + 20_000
  for (;;) {
    const listed = (await apiStatus(dir)).peers
      .map((p) => p.peerId)
      .sort()
      .join()
    if (listed === want) return
    if (Date.now() > deadline) throw new Error(`status lists [${listed}], expected [${want}] within 20 s`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

export const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  )
