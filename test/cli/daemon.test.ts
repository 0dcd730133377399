import { chmod, copyFile, mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DaemonProcess, runCli } from '../../scripts/chaos/cli-process.ts'
import { isTaskId } from '../../src/task/task-id.ts'
import { apiStatus, exists, ok, peersListed, type Started, status, stopDaemons } from './daemon-fixture.ts'

let root: string
const daemons: DaemonProcess[] = []
let A: Started
let B: Started
let C: Started

async function startDaemon(name: string, bootstrap?: string, extra: string[] = []): Promise<Started> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const args = ['--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--slots', '2', ...extra]
  if (bootstrap !== undefined) args.push('--bootstrap', bootstrap)
  const proc = new DaemonProcess(args)
  daemons.push(proc)
  const { peerId, addr } = await proc.ready()
  return { process: proc, dir, peerId, addr }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'taskmesh-cli-'))
  // closed by default: A makes the mesh's key; B is given it (as A prints), C finds it in its data dir
  A = await startDaemon('a')
  await mkdir(join(root, 'c'), { recursive: true, mode: 0o700 })
  await copyFile(join(A.dir, 'swarm.key'), join(root, 'c', 'swarm.key'))
  ;[B, C] = await Promise.all([
    startDaemon('b', A.addr, ['--swarm-key', join(A.dir, 'swarm.key')]),
    startDaemon('c', A.addr),
  ])
  // the mesh is formed once every daemon hears the other two's capacity beacons
  await Promise.all(
    [A, B, C].flatMap((d) =>
      [A, B, C]
        .filter((other) => other !== d)
        .map((other) => d.process.waitForLine(new RegExp(`^peer ${other.peerId} joined$`))),
    ),
  )
}, 60_000)

afterAll(() => stopDaemons(daemons, root), 30_000)

describe('taskmesh daemon + CLI, as child processes', () => {
  it('is closed by default: the first daemon made a swarm key (mode 600) and printed how to join', async () => {
    const key = join(A.dir, 'swarm.key')
    expect((await stat(key)).mode & 0o777).toBe(0o600)
    expect(A.process.lines).toContain(
      `swarm key ${key} (created: a private mesh, only nodes with this key connect)`,
    )
    expect(A.process.lines).toContain(
      `to join from another machine: copy ${key} there, then run: taskmesh daemon --swarm-key <that copy> --bootstrap ${A.addr}`,
    )
    // B used the key it was given, C the copy in its data dir: neither made one
    expect(B.process.lines).toContain(`swarm key ${key}`)
    expect(C.process.lines).toContain(`swarm key ${join(C.dir, 'swarm.key')}`)
    expect(await exists(join(B.dir, 'swarm.key'))).toBe(false)
    // stderr carries the structured log only (JSON lines), and it warned of nothing
    for (const d of [A, B, C]) {
      const entries = d.process.stderr
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { level: string; msg: string })
      expect(entries.filter((e) => !['debug', 'info'].includes(e.level))).toEqual([])
    }
  })

  it('refuses to join with a key of its own; --open runs open and says so; a client needs the key', async () => {
    const lone = join(root, 'lone')
    const [joining, both, noKey] = await Promise.all([
      runCli(['daemon', '--data-dir', lone, '--bootstrap', A.addr], 60_000),
      runCli(['daemon', '--data-dir', lone, '--open', '--swarm-key', join(A.dir, 'swarm.key')], 60_000),
      runCli(['status', '--peer', A.addr], 60_000),
    ])
    expect(joining.code).toBe(1)
    expect(joining.stderr).toContain('--bootstrap: this daemon has no swarm key yet')
    expect(joining.stderr).toContain('--swarm-key <file>')
    expect(await exists(join(lone, 'swarm.key'))).toBe(false)
    expect(both.code).toBe(1)
    expect(both.stderr).toContain("option '--open' cannot be used with option '--swarm-key <file>'")
    expect(noKey.code).toBe(1)
    expect(noKey.stderr).toContain("a private mesh needs its key: --swarm-key <the mesh's swarm.key>")
    // one hint, in the CLI's words: not the light client's too, which names its library option
    expect(noKey.stderr.match(/private mesh/g)).toHaveLength(1)
    expect(noKey.stderr).not.toContain('swarmKey')

    // a data dir other users can read is warned of (made by hand, or before taskmesh made it private)
    await mkdir(lone, { recursive: true })
    await chmod(lone, 0o755)
    const open = new DaemonProcess(['--data-dir', lone, '--listen', '/ip4/127.0.0.1/tcp/0', '--open'])
    daemons.push(open)
    await open.ready(60_000)
    // stderr is a pipe of its own: the warning, written before "ready", may come after it
    await expect
      .poll(() => open.stderr, { timeout: 10_000 })
      .toMatch(/^warning: --open: this node runs an OPEN mesh/m)
    await expect
      .poll(() => open.stderr, { timeout: 10_000 })
      .toContain(`warning: data dir ${lone} is open to other users of this machine (mode 755)`)
    expect(open.lines.some((l) => l.startsWith('swarm key'))).toBe(false)
    expect(await exists(join(lone, 'swarm.key'))).toBe(false)
    await open.kill()
  }, 120_000)

  it('each daemon printed its identity, one loopback address and the HTTP API, and wrote api.json', async () => {
    for (const d of [A, B, C]) {
      expect(d.peerId).toMatch(/^12D3KooW/)
      expect(d.addr).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${d.peerId}$`))
      expect(await d.process.waitForLine(/^http api http:\/\/127\.0\.0\.1:\d+$/)).toBeTruthy()
      // api.json holds the API's token: readable by the operator only, and the API wants it
      const file = join(d.dir, 'api.json')
      expect((await stat(file)).mode & 0o777).toBe(0o600)
      const { url, token } = JSON.parse(await readFile(file, 'utf8')) as { url: string; token: string }
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect((await fetch(`${url}/status`)).status).toBe(401)
    }
    expect(new Set([A.peerId, B.peerId, C.peerId]).size).toBe(3)
  })

  it('submit through the HTTP API of A prints an id; result --wait at C prints the succeeded record', async () => {
    const submitted = ok(await runCli(['submit', 'sleep', '--input', '{"ms":50}', '--data-dir', A.dir]))
    expect(submitted.lines).toHaveLength(1)
    const id = submitted.lines[0]
    expect(isTaskId(id)).toBe(true)

    const result = ok(await runCli(['result', id, '--wait', '--wait-ms', '15000', '--data-dir', C.dir]))
    const record = JSON.parse(result.stdout)
    expect(record.taskId).toBe(id)
    expect(record.status).toBe('succeeded')
    expect(record.owner).toBe(A.peerId)
    expect([A.peerId, B.peerId, C.peerId]).toContain(record.executor)
  })

  it('submit --peer (light client) --wait prints the id, then the result', async () => {
    const run = ok(
      await runCli([
        'submit',
        'echo',
        '--input',
        '{"x":1}',
        '--peer',
        B.addr,
        '--swarm-key',
        join(A.dir, 'swarm.key'),
        '--wait',
        '--wait-ms',
        '15000',
      ]),
    )
    expect(run.lines).toHaveLength(2)
    const [id, json] = run.lines
    expect(isTaskId(id)).toBe(true)
    const record = JSON.parse(json)
    expect(record).toMatchObject({ taskId: id, status: 'succeeded', output: { x: 1 }, owner: B.peerId })
  })

  it('submit --file runs every task; status lists the other peers and the counters', async () => {
    const file = join(root, 'tasks.json')
    const outputs = ['one', 'two', 'three', 'four', 'five']
    const [before] = await Promise.all([
      apiStatus(B.dir),
      writeFile(
        file,
        JSON.stringify({
          tasks: outputs.map((output, i) =>
            i % 2 === 0 ? { type: 'sleep', input: { ms: 30, output } } : { type: 'echo', input: output },
          ),
        }),
      ),
    ])
    const run = ok(
      await runCli([
        'submit',
        '--file',
        file,
        '--data-dir',
        B.dir,
        '--wait',
        '--wait-ms',
        '15000',
        '--no-progress',
      ]),
    )
    expect(run.lines).toHaveLength(2 * outputs.length)
    const ids = run.lines.slice(0, outputs.length)
    expect(ids.every(isTaskId)).toBe(true)
    expect(new Set(ids).size).toBe(outputs.length)
    // results follow, one JSON line per task, in submission order
    const records = run.lines.slice(outputs.length).map((l) => JSON.parse(l))
    expect(records.map((r) => r.taskId)).toEqual(ids)
    expect(records.map((r) => r.status)).toEqual(outputs.map(() => 'succeeded'))
    expect(records.map((r) => r.output)).toEqual(outputs)

    // peer views are eventually consistent (a loaded machine can delay beacons past the
    // liveness window): wait, bounded, until B's API lists both peers, then test the command
    await peersListed(B.dir, [A.peerId, C.peerId])
    const s = await status(B.dir)
    expect(s.peerId).toBe(B.peerId)
    expect(s.slots).toBe(2)
    expect(s.peers.map((p) => p.peerId).sort()).toEqual([A.peerId, C.peerId].sort())
    expect(s.peers.every((p) => p.types.includes('echo'))).toBe(true)
    expect(s.counters.accepted).toBe(before.counters.accepted + outputs.length)
    expect(s.queued).toBe(0)
  })

  it('refuses bad input with a non-zero exit and a message naming what is wrong; nothing is queued', async () => {
    const before = await apiStatus(A.dir)
    const badFile = join(root, 'bad-tasks.json')
    await writeFile(badFile, JSON.stringify([{ type: 'echo' }, { type: 'echo', maxAttempts: 0 }]))
    const [unknown, badJson, badTimeout, negTimeout, fileEntry, badInput] = await Promise.all([
      runCli(['submit', 'no-such-handler', '--data-dir', A.dir]),
      runCli(['submit', 'echo', '--input', '{"x":', '--data-dir', A.dir]),
      runCli(['submit', 'echo', '--timeout', '0', '--data-dir', A.dir]),
      runCli(['submit', 'echo', '--timeout', '-5', '--data-dir', A.dir]),
      runCli(['submit', '--file', badFile, '--data-dir', A.dir]),
      runCli(['submit', 'sleep', '--input', '{"ms":-5}', '--data-dir', A.dir]),
    ])
    for (const run of [unknown, badJson, badTimeout, negTimeout, fileEntry, badInput]) {
      expect(run.code).not.toBe(0)
      expect(run.code).not.toBeNull()
      expect(run.stdout).toBe('')
    }
    // the daemon refused it, listing what the mesh offers; the CLI says it without the field
    expect(unknown.stderr).toMatch(
      /taskmesh: unknown handler type "no-such-handler" \(handler types in reach: .*echo/,
    )
    expect(unknown.stderr).toContain('ERR_UNKNOWN_HANDLER')
    expect(badJson.stderr).toMatch(/--input is not valid JSON/)
    expect(badTimeout.stderr).toMatch(/--timeout must be an integer from 1 to \d+ \(ms\), got "0"/)
    expect(negTimeout.stderr).toMatch(/--timeout must be an integer from 1 to \d+ \(ms\), got "-5"/)
    expect(fileEntry.stderr).toContain(`--file ${badFile}: tasks[1].maxAttempts:`)
    // the daemon's handler refused the input: said as the flag that gave it
    expect(badInput.stderr).toContain(
      'taskmesh: --input: sleep: input must be { ms: number in [0, 86400000] }',
    )

    const after = await apiStatus(A.dir)
    expect(after.queued).toBe(0)
    expect(after.counters.accepted).toBe(before.counters.accepted)
  })

  it('commands without a daemon, or with a malformed id, fail with a clear message', async () => {
    const empty = join(root, 'no-daemon')
    await mkdir(empty, { recursive: true })
    const [noDaemon, badId, help] = await Promise.all([
      runCli(['status', '--data-dir', empty]),
      runCli(['result', 'not-a-task-id', '--data-dir', A.dir]),
      runCli(['--help']),
    ])
    expect(noDaemon.code).toBe(1)
    expect(noDaemon.stderr).toContain(`no running daemon found: ${join(empty, 'api.json')} does not exist`)
    expect(badId.code).toBe(1)
    expect(badId.stderr).toContain('"not-a-task-id" is not a task id')
    expect(ok(help).stdout).toMatch(/daemon[\s\S]*submit[\s\S]*result[\s\S]*status[\s\S]*simulate[\s\S]*demo/)
  })

  it('SIGTERM stops a daemon cleanly; a restart on the same data dir keeps its peer id and rejoins', async () => {
    const apiFile = join(C.dir, 'api.json')
    expect(await exists(apiFile)).toBe(true)
    // look for "left" after C's last "joined": a late beacon may have printed a transient "left" already
    const joinedAt = A.process.lines.lastIndexOf(`peer ${C.peerId} joined`)
    expect(joinedAt).toBeGreaterThanOrEqual(0)
    const mark = joinedAt + 1
    C.process.signal('SIGTERM')
    await C.process.waitForLine(/^SIGTERM: stopping$/)
    await C.process.waitForLine(/^stopped$/)
    expect(await C.process.exited).toEqual({ code: 0, signal: null })
    expect(await exists(apiFile)).toBe(false)
    await A.process.waitForLine(new RegExp(`^peer ${C.peerId} left$`), { from: mark })
    const leftAt = A.process.mark()

    const again = await startDaemon('c', A.addr)
    expect(again.peerId).toBe(C.peerId)
    expect(await exists(apiFile)).toBe(true)
    await A.process.waitForLine(new RegExp(`^peer ${C.peerId} joined$`), { from: leftAt })
    const run = ok(await runCli(['submit', 'echo', '--input', '"back"', '--data-dir', again.dir, '--wait']))
    expect(JSON.parse(run.lines[1])).toMatchObject({ status: 'succeeded', output: 'back', owner: C.peerId })
    C = again
  })
})
