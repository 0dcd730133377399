import { access, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'vitest'
import { type CliRun, type DaemonProcess, runCli } from '../../scripts/chaos/cli-process.ts'

/** A daemon a test started: its process, data dir, and what it printed of itself. */
export interface Started {
  process: DaemonProcess
  dir: string
  peerId: string
  addr: string
}

/** Stops every daemon (SIGTERM, then SIGKILL), then removes the test's directory (when made). */
export async function stopDaemons(daemons: DaemonProcess[], root: string | undefined): Promise<void> {
  await Promise.all(daemons.map((d) => d.kill()))
  if (root !== undefined) await rm(root, { recursive: true, force: true })
}

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
