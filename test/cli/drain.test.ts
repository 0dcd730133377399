import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DaemonProcess, runCli } from '../../scripts/chaos/cli-process.ts'
import { EXIT_NO_RESULT } from '../../src/cli/exit-codes.ts'

/** A one-slot daemon alone on `dir`, draining up to 20 s on SIGTERM. */
async function daemon(dir: string): Promise<DaemonProcess> {
  const proc = new DaemonProcess([
    '--data-dir',
    dir,
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--slots',
    '1',
    '--drain-timeout',
    '20000',
  ])
  await proc.ready()
  return proc
}

async function submitSleep(dir: string, ms: number, output: string): Promise<string> {
  const run = await runCli(['submit', 'sleep', '--input', JSON.stringify({ ms, output }), '--data-dir', dir])
  expect(run.stderr).toBe('')
  return run.stdout.trim()
}

/** Resolves once the daemon's story of the task says it started (asked of its HTTP API). */
async function started(dir: string, id: string): Promise<void> {
  const { url, token } = JSON.parse(await readFile(join(dir, 'api.json'), 'utf8')) as {
    url: string
    token: string
  }
  const deadline = Date.now() + 15_000
  for (;;) {
    const res = await fetch(`${url}/tasks/${id}/story`, { headers: { authorization: `Bearer ${token}` } })
    const { events } = (await res.json()) as { events: Array<{ event: string }> }
    if (events.some((e) => e.event === 'started')) return
    if (Date.now() > deadline) throw new Error(`task ${id} never started`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Resolves once the daemon has accepted `n` tasks (asked of its HTTP API). */
async function accepted(url: string, token: string, n: number): Promise<void> {
  const deadline = Date.now() + 15_000
  for (;;) {
    const res = await fetch(`${url}/status`, { headers: { authorization: `Bearer ${token}` } })
    const { counters } = (await res.json()) as { counters: { accepted: number } }
    if (counters.accepted >= n) return
    if (Date.now() > deadline) throw new Error(`the daemon accepted ${counters.accepted} tasks, not ${n}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

describe('taskmesh daemon --drain-timeout', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taskmesh-drain-cli-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('SIGTERM waits for the running task, which ends and is kept; a second SIGTERM hands the run back at once', async () => {
    const first = await daemon(dir)
    const id = await submitSleep(dir, 2_500, 'drained')
    await started(dir, id)
    const asked = Date.now()
    first.signal('SIGTERM')
    await first.waitForLine(/^SIGTERM: draining \(1 running, up to 20000 ms/)
    await first.waitForLine(/^stopped$/)
    const stoppedAt = Date.now()
    expect(await first.exited).toEqual({ code: 0, signal: null })

    const second = await daemon(dir)
    const result = await runCli(['result', id, '--data-dir', dir])
    const record = JSON.parse(result.stdout)
    expect(record).toMatchObject({ status: 'succeeded', output: 'drained' })
    expect(record.attempts).toHaveLength(1)
    // the run ended after the signal and before the daemon stopped: the stop waited for it
    expect(record.finishedAt).toBeGreaterThan(asked)
    expect(record.finishedAt).toBeLessThanOrEqual(stoppedAt)

    await started(dir, await submitSleep(dir, 60_000, 'never'))
    const again = Date.now()
    second.signal('SIGTERM')
    await second.waitForLine(/^SIGTERM: draining/)
    second.signal('SIGTERM')
    await second.waitForLine(/^SIGTERM again: handing running tasks back now$/)
    await second.waitForLine(/^stopped$/)
    expect(await second.exited).toEqual({ code: 0, signal: null })
    expect(Date.now() - again).toBeLessThan(15_000)
  }, 60_000)

  it('while it drains, a wait on the draining run gets its result, other waits and new work a 503 that says it stops', async () => {
    const own = await mkdtemp(join(tmpdir(), 'taskmesh-drain-waits-'))
    try {
      const proc = await daemon(own)
      const { url, token } = JSON.parse(await readFile(join(own, 'api.json'), 'utf8')) as {
        url: string
        token: string
      }
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
      const running = await submitSleep(own, 4_000, 'drained')
      await started(own, running)
      const queued = await submitSleep(own, 60_000, 'never') // one slot: it waits behind
      // a submit --wait whose task the daemon accepts before it is told to stop
      const submitWait = runCli(['submit', 'sleep', '--input', '{"ms":60000}', '--wait', '--data-dir', own])
      await accepted(url, token, 3)
      proc.signal('SIGTERM')
      await proc.waitForLine(/^SIGTERM: draining \(1 running/)
      // asked while the run drains (4 s): the API serves on
      const onRunning = fetch(`${url}/tasks/${running}?wait=30000`, { headers })
      const onQueued = fetch(`${url}/tasks/${queued}?wait=30000`, { headers })
      const cli = runCli(['result', queued, '--wait', '--data-dir', own])
      const submit = await fetch(`${url}/tasks`, { method: 'POST', headers, body: '{"type":"echo"}' })
      expect(submit.status).toBe(503)
      expect(await submit.json()).toMatchObject({ code: 'ERR_STOPPING' })
      const health = await fetch(`${url}/healthz`)
      expect(health.status).toBe(503)
      expect(await health.json()).toMatchObject({ status: 'unavailable', state: 'draining' })

      const drained = await onRunning
      expect(drained.status).toBe(200)
      expect(await drained.json()).toMatchObject({ taskId: running, status: 'succeeded', output: 'drained' })
      const refused = await onQueued
      expect(refused.status).toBe(503)
      const body = (await refused.json()) as { code: string; error: string; taskId: string }
      expect(body).toMatchObject({ code: 'ERR_STOPPING', taskId: queued })
      expect(body.error).toMatch(/^the daemon is stopping: ask another node/)
      // the tasks were accepted: their waits end with "no result yet" (3), not a refusal (1)
      const said = await cli
      expect(said.stderr).toMatch(/the daemon is stopping: ask another node/)
      expect(said.code).toBe(EXIT_NO_RESULT)
      expect(JSON.parse(said.stdout)).toEqual({ taskId: queued, state: 'queued' })
      const waited = await submitWait
      expect(waited.stderr).toMatch(/1 of 1 results not in: the daemon is stopping: .*\(ERR_STOPPING\)/)
      expect(waited.code).toBe(EXIT_NO_RESULT)
      expect(JSON.parse(waited.lines[1])).toEqual({ taskId: waited.lines[0], status: 'pending' })
      await proc.waitForLine(/^stopped$/)
      expect(await proc.exited).toEqual({ code: 0, signal: null })
    } finally {
      await rm(own, { recursive: true, force: true })
    }
  }, 60_000)
})
