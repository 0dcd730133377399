import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DaemonProcess, runCli } from '../../scripts/chaos/cli-process.ts'
import { type Started, stopDaemons } from './daemon-fixture.ts'

let root: string
let denyFile: string
const daemons: DaemonProcess[] = []
let A: Started
let B: Started

/** Beacons every 250 ms, a peer silent for 1.5 s is dead: the test's cuts are noticed at once. */
const FAST = ['--open', '--beacon-interval', '250', '--failure-detection', '1500', '--slots', '1']

async function startDaemon(name: string, extra: string[]): Promise<Started> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true })
  const proc = new DaemonProcess(['--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', ...FAST, ...extra])
  daemons.push(proc)
  return { process: proc, dir, ...(await proc.ready()) }
}

async function api(d: Started, path: string): Promise<Response> {
  const { url, token } = JSON.parse(await readFile(join(d.dir, 'api.json'), 'utf8'))
  return fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } })
}

const connections = async (d: Started) =>
  ((await (await api(d, '/status')).json()) as { connections: { open: number; denied: number } }).connections

/** Resolves once the daemon's stderr holds `text` (polled every 50 ms, at most 20 s). */
async function stderrHas(d: Started, text: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!d.process.stderr.includes(text)) {
    if (Date.now() > deadline) throw new Error(`stderr never said "${text}":\n${d.process.stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'taskmesh-deny-'))
  denyFile = join(root, 'deny.txt')
  await writeFile(denyFile, '# nobody yet\n')
  A = await startDaemon('a', [])
  B = await startDaemon('b', ['--bootstrap', A.addr, '--deny-peers', denyFile])
  await Promise.all([
    A.process.waitForLine(new RegExp(`^peer ${B.peerId} joined$`)),
    B.process.waitForLine(new RegExp(`^peer ${A.peerId} joined$`)),
  ])
}, 60_000)

afterAll(() => stopDaemons(daemons, root), 30_000)

describe('taskmesh daemon --deny-peers, read again on SIGHUP', () => {
  it('cuts a peer put on the list at once, keeps it out, and lets it back once taken off', async () => {
    const marks = { a: A.process.mark(), b: B.process.mark() }
    await writeFile(denyFile, `# a misbehaving peer\n${A.peerId}\n`)
    B.process.signal('SIGHUP')
    await B.process.waitForLine(/^deny list reloaded: 1 peers denied, [1-9]\d* connections cut$/, {
      from: marks.b,
    })
    // both sides take the other for gone, and no connection comes back while the entry stands
    await A.process.waitForLine(new RegExp(`^peer ${B.peerId} left$`), { from: marks.a })
    await B.process.waitForLine(new RegExp(`^peer ${A.peerId} left$`), { from: marks.b })
    expect(await connections(B)).toEqual(expect.objectContaining({ open: 0, denied: 1 }))
    expect(await (await api(B, '/metrics')).text()).toMatch(/^taskmesh_peers_denied 1$/m)

    // a file naming something else than a peer id changes nothing, and says where it is wrong
    await writeFile(denyFile, `${A.peerId}\nnot-a-peer\n`)
    B.process.signal('SIGHUP')
    await stderrHas(
      B,
      `taskmesh: deny list not reloaded, the old one stays: --deny-peers ${denyFile}:2: "not-a-peer" is not a peer id`,
    )
    expect(await connections(B)).toEqual(expect.objectContaining({ open: 0, denied: 1 }))

    const back = { a: A.process.mark(), b: B.process.mark() }
    await writeFile(denyFile, '')
    B.process.signal('SIGHUP')
    await B.process.waitForLine(/^deny list reloaded: 0 peers denied, 0 connections cut$/, { from: back.b })
    await A.process.waitForLine(new RegExp(`^peer ${B.peerId} joined$`), { from: back.a, timeoutMs: 40_000 })
    expect((await connections(B)).denied).toBe(0)
  }, 90_000)

  it('a daemon started with a deny file it cannot use exits, naming the file and line', async () => {
    const bad = join(root, 'bad.txt')
    await writeFile(bad, `# fine\n${A.peerId}\n12D3KooWnope\n`)
    const dir = join(root, 'c')
    const [wrong, missing] = await Promise.all([
      runCli(['daemon', '--data-dir', dir, '--open', '--deny-peers', bad]),
      runCli(['daemon', '--data-dir', `${dir}2`, '--open', '--deny-peers', join(root, 'none.txt')]),
    ])
    expect(wrong.code).not.toBe(0)
    expect(wrong.stderr).toContain(`--deny-peers ${bad}:3: "12D3KooWnope" is not a peer id`)
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toContain(`--deny-peers: cannot read ${join(root, 'none.txt')}`)
  })
})
