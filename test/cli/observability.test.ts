import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DaemonProcess, runCli } from '../../scripts/chaos/cli-process.ts'
import { checkBindHost, isLoopbackHost, parseTokenFile } from '../../src/http/bind-host.ts'
import { stopDaemons } from './daemon-fixture.ts'

/** Time a CLI child may take on a loaded machine, ms. */
const CLI_MS = 60_000
const TOKEN = 'a'.repeat(40)
/** A peer id nobody runs: a bootstrap address that cannot be reached. */
const NOBODY = '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'

/** The JSON lines of a daemon's stderr (its structured log), leaving out plain warnings. */
function logOf(d: DaemonProcess): Array<Record<string, unknown>> {
  return d.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

let root: string
const daemons: DaemonProcess[] = []

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'taskmesh-observe-'))
})
afterAll(() => stopDaemons(daemons, root), 30_000)

describe('--http-host and --http-token-file', () => {
  it.each([
    ['127.0.0.1', undefined, undefined],
    ['localhost', undefined, undefined],
    ['[::1]', undefined, undefined],
    ['10.0.0.5', TOKEN, undefined],
    ['10.0.0.5', undefined, 'serves the API beyond this machine: give it a token with --http-token-file'],
    ['0.0.0.0', TOKEN, 'binds every interface'],
    ['::', TOKEN, 'binds every interface'],
    ['example.com', TOKEN, 'is not an IP address'],
  ])('%s (token %s): %s', (host, token, error) => {
    if (error === undefined) expect(() => checkBindHost(host, token)).not.toThrow()
    else expect(() => checkBindHost(host, token)).toThrow(error)
  })

  it('loopback names and addresses', () => {
    expect(['127.0.0.1', '127.0.0.2', '::1', '[::1]', 'LOCALHOST'].every(isLoopbackHost)).toBe(true)
    expect(['10.0.0.5', '0.0.0.0', '::', 'fe80::1'].some(isLoopbackHost)).toBe(false)
  })

  it('a token file: trimmed; too short or with spaces refused', () => {
    expect(parseTokenFile(`${TOKEN}\n`, 'f')).toBe(TOKEN)
    expect(() => parseTokenFile('short', 'f')).toThrow('--http-token-file f: the token must be at least 32')
    expect(() => parseTokenFile(`${TOKEN} ${TOKEN}`, 'f')).toThrow('no white space')
  })

  it('a daemon refuses a bind beyond loopback without a token, a wildcard, a bad level: one line, exit 1', async () => {
    const dir = join(root, 'refused')
    const [open, wildcard, level] = await Promise.all([
      runCli(['daemon', '--data-dir', dir, '--http-host', '10.0.0.5'], CLI_MS),
      runCli(['daemon', '--data-dir', dir, '--http-host', '0.0.0.0'], CLI_MS),
      runCli(['daemon', '--data-dir', dir, '--log-level', 'loud'], CLI_MS),
    ])
    for (const run of [open, wildcard, level]) {
      expect(run.code, run.stderr).toBe(1)
      expect(run.stdout).toBe('')
    }
    expect(open.stderr).toContain('--http-host 10.0.0.5 serves the API beyond this machine')
    expect(wildcard.stderr).toContain('--http-host 0.0.0.0 binds every interface')
    expect(level.stderr).toContain("option '--log-level <level>' argument 'loud' is invalid")
  }, 120_000)
})

describe('the daemon log on stderr', () => {
  it('--log-level warn: only warnings, such as an unreachable bootstrap peer, each with the peer id', async () => {
    const d = new DaemonProcess([
      ...['--data-dir', join(root, 'quiet'), '--listen', '/ip4/127.0.0.1/tcp/0', '--open'],
      ...['--bootstrap', NOBODY, '--log-level', 'warn', '--no-http'],
    ])
    daemons.push(d)
    const { peerId } = await d.ready()
    await expect
      .poll(() => logOf(d).find((l) => l.bootstrap === NOBODY), { timeout: 10_000 })
      .toMatchObject({
        level: 'warn',
        peerId,
        msg: 'bootstrap peer unreachable: dialling it again with backoff',
      })
    expect(logOf(d).filter((l) => l.level !== 'warn')).toEqual([])
    expect(d.lines).toContain('ready') // the console lines stay on stdout
  }, 60_000)

  it('TASKMESH_LOG_LEVEL=debug, a token file, /metrics and /healthz with the process metrics', async () => {
    const tokenFile = join(root, 'token')
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 })
    const dir = join(root, 'loud')
    const d = new DaemonProcess(
      [
        ...['--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--open'],
        ...['--http-host', '127.0.0.1', '--http-token-file', tokenFile, '--max-connections', '5'],
      ],
      { TASKMESH_LOG_LEVEL: 'debug' },
    )
    daemons.push(d)
    const { peerId } = await d.ready()
    const { url, token } = JSON.parse(await readFile(join(dir, 'api.json'), 'utf8')) as {
      url: string
      token: string
    }
    expect(token).toBe(TOKEN)
    const submitted = await fetch(`${url}/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'echo', input: 1 }),
    })
    expect(submitted.status).toBe(201)
    await expect
      .poll(() => logOf(d).find((l) => l.msg === 'task accepted'), { timeout: 10_000 })
      .toMatchObject({
        level: 'debug',
        peerId,
      })
    expect(logOf(d).find((l) => l.msg === 'node started')).toMatchObject({ level: 'info', peerId, http: url })
    for (const l of logOf(d)) expect(Number.isNaN(Date.parse(String(l.time)))).toBe(false)

    const metrics = await (await fetch(`${url}/metrics`)).text()
    expect(metrics).toMatch(/^taskmesh_tasks_accepted_total 1$/m)
    expect(metrics).toMatch(/^process_cpu_user_seconds_total /m)
    // --max-connections reaches the node: its status and gauges give the limit
    expect(metrics).toMatch(/^taskmesh_connections_limit 5$/m)
    expect(metrics).toMatch(/^taskmesh_connections_trimmed_total 0$/m)
    const status = await fetch(`${url}/status`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(((await status.json()) as { connections: unknown }).connections).toEqual({
      open: 0,
      limit: 5,
      trimmed: 0,
      denied: 0,
    })
    expect((await fetch(`${url}/healthz`)).status).toBe(200)

    await d.kill()
    expect(d.lines.at(-1)).toBe('stopped')
    expect(logOf(d).at(-1)).toMatchObject({ level: 'info', msg: 'node stopped', peerId }) // flushed at exit
  }, 60_000)
})
