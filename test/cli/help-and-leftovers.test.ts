import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CliRun, runCli } from '../../scripts/chaos/cli-process.ts'
import { REPO } from '../../scripts/dist.ts'
import { TASK_EVENTS } from '../../src/node/watch/event-states.ts'
import { LISTED_STATES } from '../../src/node/watch/task-list.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { taskId } from '../../src/task/task-id.ts'

/**
 * What an operator meets before any daemon answers: the help of each command, the flags refused
 * because they would be ignored, and the `api.json` a killed daemon leaves behind. No daemon runs.
 */

/** Time a CLI child may take on a loaded machine, ms. */
const CLI_MS = 60_000
const cli = (args: string[]) => runCli(args, CLI_MS)
/** Help text with its line wrapping undone. */
const flat = (run: CliRun) => run.stdout.replace(/\s+/g, ' ')

let root: string
/** A data dir with no daemon. */
let empty: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'taskmesh-edges-'))
  empty = join(root, 'empty')
  await mkdir(empty)
})

afterAll(() => rm(root, { recursive: true, force: true }))

describe('help', () => {
  it('watch and dashboard list only the flags they take; watch lists every event and state the API takes', async () => {
    const [watch, dashboard, daemon, status] = await Promise.all(
      ['watch', 'dashboard', 'daemon', 'status'].map((c) => cli([c, '--help'])),
    )
    for (const run of [watch, dashboard]) {
      expect(run.code).toBe(0)
      for (const flag of ['--peer', '--swarm-key', '--identity']) expect(run.stdout).not.toContain(flag)
      expect(run.stdout).toContain('--api <url>')
    }
    expect(flat(watch)).toContain(`these states (comma-separated): ${LISTED_STATES.join(', ')}`)
    expect(flat(watch)).toContain(
      `only these events (comma-separated): ${Object.keys(TASK_EVENTS).join(', ')}`,
    )
    const dataDir = /--data-dir <dir> (.*?) --slots/.exec(flat(daemon))?.[1] ?? ''
    for (const file of ['peer.key', 'swarm.key', 'tasks.journal', 'datastore', 'api.json']) {
      expect(dataDir).toContain(file)
    }
    expect(flat(status)).toContain(
      '--json print JSON: with --mesh, the mesh view (status prints JSON without it)',
    )
  }, 120_000)

  it('help of a command that does not exist says so, as the command itself does', async () => {
    const [help, direct] = await Promise.all([cli(['help', 'nosuch']), cli(['nosuch'])])
    expect(help.code).toBe(1)
    expect(help.stdout).toBe('')
    expect(help.stderr).toContain("error: unknown command 'nosuch'")
    expect(help.stderr).toBe(direct.stderr)
  }, 120_000)

  it('the README lists every event and state watch takes, and the stopped tasks it missed', async () => {
    const readme = await readFile(join(REPO, 'README.md'), 'utf8')
    const section = readme.slice(readme.indexOf('### Watch a mesh'), readme.indexOf('### Local simulations'))
    for (const name of [...Object.keys(TASK_EVENTS), ...LISTED_STATES])
      expect(section).toContain(`\`${name}\``)
    expect(section).toContain('--event started,granted,finished,completed')
  })
})

describe('flags that would be ignored are refused', () => {
  it('--no-progress without --wait, and --http-* beside --no-http', async () => {
    const daemon = (...flags: string[]) =>
      cli(['daemon', '--data-dir', join(root, 'd'), '--no-http', ...flags])
    const [progress, port, host, token] = await Promise.all([
      cli(['submit', 'echo', '--no-progress', '--data-dir', empty]),
      daemon('--http-port', '8080'),
      daemon('--http-host', '127.0.0.1'),
      daemon('--http-token-file', join(root, 'token')),
    ])
    expect(progress.code).toBe(1)
    expect(progress.stderr).toBe('taskmesh: --no-progress applies only with --wait\n')
    for (const [run, flag] of [
      [port, '--http-port <port>'],
      [host, '--http-host <address>'],
      [token, '--http-token-file <file>'],
    ] as const) {
      expect(run.code).toBe(1)
      expect(run.stderr).toContain(`error: option '${flag}' cannot be used with option '--no-http'`)
    }
  }, 120_000)

  it('watch and dashboard, finding no daemon, name only what they take instead', async () => {
    const [watch, dashboard, status] = await Promise.all(
      ['watch', 'dashboard', 'status'].map((c) => cli([c, '--data-dir', empty])),
    )
    for (const run of [watch, dashboard]) {
      expect(run.code).toBe(1)
      expect(run.stderr).toContain(`"taskmesh daemon --data-dir ${empty}", or pass --api <url>)`)
    }
    expect(status.stderr).toContain('or pass --api <url> or --peer <multiaddr>)')
  }, 120_000)
})

/** A process that has exited and is not reaped (a zombie), as a daemon killed with SIGKILL is for a while. */
async function zombie(): Promise<{ pid: number; parent: ChildProcess }> {
  // the background child exits while its parent, now `sleep`, never reaps it
  const parent = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 60'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const pid = await new Promise<number>((resolve) =>
    parent.stdout?.once('data', (d) => resolve(Number(String(d)))),
  )
  const deadline = Date.now() + 10_000
  for (;;) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return { pid, parent }
    if (Date.now() > deadline) throw new Error(`pid ${pid} never became a zombie`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe("a killed daemon's api.json", () => {
  it.skipIf(process.platform !== 'linux')(
    'every command reading it says the daemon is not running, while its process is still a zombie',
    async () => {
      const { pid, parent } = await zombie()
      try {
        const dir = join(root, 'killed')
        await mkdir(dir)
        const url = `http://127.0.0.1:${await closedPort()}`
        await writeFile(
          join(dir, 'api.json'),
          JSON.stringify({ url, token: 't', peerId: 'p', multiaddrs: [], pid }),
        )
        const id = taskId(parseTaskSpec({ type: 'echo' }), 'nobody', 'never-submitted')
        const commands = [['status'], ['result', id], ['cancel', id], ['story', id], ['dashboard'], ['watch']]
        const runs = await Promise.all(commands.map((c) => cli([...c, '--data-dir', dir])))
        for (const [i, run] of runs.entries()) {
          expect(run.code, commands[i].join(' ')).toBe(1)
          expect(run.stderr, commands[i].join(' ')).toContain(
            `no running daemon found: ${join(dir, 'api.json')} names pid ${pid}, which is not running (a daemon that was killed leaves it behind;`,
          )
        }
      } finally {
        parent.kill('SIGKILL')
      }
    },
    120_000,
  )
})
