import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CliRun, runCli } from '../../scripts/chaos/cli-process.ts'

/** Time a CLI child may take on a loaded machine, ms. */
const CLI_MS = 60_000

let root: string
let busy: Server
let busyPort: number

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'taskmesh-flags-'))
  busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  busyPort = (busy.address() as { port: number }).port
})

afterAll(async () => {
  await new Promise((resolve) => busy.close(resolve))
  await rm(root, { recursive: true, force: true })
})

/** Asserts a failure told in one line (after commander's usage hint), without a stack. */
function oneLine(run: CliRun): string {
  expect(run.code).toBe(1)
  expect(run.stdout).toBe('')
  expect(run.stderr).not.toMatch(/^\s+at /m)
  const lines = run.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('(run with --help'))
  expect(lines).toHaveLength(1)
  return lines[0]
}

describe('errors that name the flag and the value', () => {
  it('a bad --listen, --bootstrap or --peer names the flag and the value', async () => {
    const dir = join(root, 'bad-flags')
    const [listen, bootstrap, noPeerId, peer, badPeerId] = await Promise.all([
      runCli(['daemon', '--data-dir', dir, '--listen', 'tcp:4010'], CLI_MS),
      runCli(['daemon', '--data-dir', dir, '--bootstrap', 'not/an/addr'], CLI_MS),
      runCli(['daemon', '--data-dir', dir, '--bootstrap', '/ip4/10.0.0.1/tcp/4010'], CLI_MS),
      runCli(['status', '--peer', '/ip4/10.0.0.1/tcp/nope'], CLI_MS),
      runCli(['status', '--peer', '/ip4/127.0.0.1/tcp/1/p2p/notapeerid'], CLI_MS),
    ])
    expect(oneLine(listen)).toContain('--listen "tcp:4010" is not a multiaddr')
    expect(oneLine(bootstrap)).toContain('--bootstrap "not/an/addr" is not a multiaddr')
    expect(oneLine(noPeerId)).toContain('--bootstrap "/ip4/10.0.0.1/tcp/4010" has no /p2p/<peer id> part')
    expect(oneLine(peer)).toContain('--peer "/ip4/10.0.0.1/tcp/nope" is not a multiaddr')
    expect(oneLine(badPeerId)).toContain(
      '--peer "/ip4/127.0.0.1/tcp/1/p2p/notapeerid": "notapeerid" is not a peer id',
    )
  }, 120_000)

  it('TASKMESH_API_TOKEN in the environment does not stop a --peer command; --api-token with --peer does', async () => {
    const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const peer = `/ip4/127.0.0.1/tcp/1/p2p/${id}` // nothing listens: the dial is refused
    const [withEnv, withFlag] = await Promise.all([
      runCli(['status', '--peer', peer], CLI_MS, { TASKMESH_API_TOKEN: 'a-token' }),
      runCli(['status', '--peer', peer, '--api-token', 'a-token'], CLI_MS),
    ])
    expect(withEnv.code).not.toBe(0)
    expect(withEnv.stderr).not.toContain('cannot be used with')
    expect(withEnv.stderr).toContain(id) // it tried the peer
    expect(oneLine(withFlag)).toContain(
      "option '--api-token <token>' cannot be used with option '--peer <multiaddr>'",
    )
  }, 120_000)

  it('a flag that does not apply, an empty label or an aging parameter out of range is refused at once', async () => {
    const dir = join(root, 'not-applying')
    const [token, swarmKey, labels, submitLabels, theta, strict, detection] = await Promise.all([
      runCli(['status', '--data-dir', dir, '--api-token', 'a-token'], CLI_MS),
      runCli(['status', '--data-dir', dir, '--swarm-key', join(dir, 'swarm.key')], CLI_MS),
      runCli(['daemon', '--data-dir', dir, '--labels', 'gpu,,fast'], CLI_MS),
      runCli(['submit', 'noop', '--data-dir', dir, '--labels', 'gpu,'], CLI_MS),
      runCli(['daemon', '--data-dir', dir, '--aging-theta', '1'], CLI_MS),
      runCli(['daemon', '--data-dir', dir, '--queue-policy', 'strict', '--aging-tau', '500'], CLI_MS),
      runCli(['daemon', '--data-dir', dir, '--failure-detection', '1000'], CLI_MS),
    ])
    expect(oneLine(token)).toContain('--api-token applies only with --api <url>')
    expect(oneLine(swarmKey)).toContain('--swarm-key applies only with --peer <multiaddr>')
    expect(oneLine(labels)).toContain('--labels "gpu,,fast": item 2 is empty')
    expect(oneLine(submitLabels)).toContain('--labels "gpu,": item 2 is empty')
    expect(oneLine(theta)).toContain('--aging-theta must be below 1, got 1')
    expect(oneLine(strict)).toContain('--aging-tau: only with --queue-policy aging, not strict')
    expect(oneLine(detection)).toContain(
      '--failure-detection must be more than --beacon-interval (1000 ms): every peer would be judged dead between two of its beacons',
    )
    const missing = join(root, 'no-such-handlers.mjs')
    const syntax = join(root, 'syntax-error.mjs')
    await writeFile(syntax, 'export default {\n  ok: { run: () => } }\n')
    // a module that imports one that imports a broken one: placed there, and none of them ran
    const importer = join(root, 'imports-broken.mjs')
    const deep = join(root, 'lib', 'deep.mjs')
    const marker = join(root, 'importer-ran')
    await mkdir(join(root, 'lib'))
    await writeFile(deep, 'export const a = 1\n\nexport const b = (1 +;\n')
    await writeFile(join(root, 'lib', 'util.mjs'), "export { a } from './deep.mjs'\n")
    await writeFile(
      importer,
      `import { writeFileSync } from 'node:fs'\nimport { a } from './lib/util.mjs'\nwriteFileSync(${JSON.stringify(marker)}, 'x')\nexport default { ok: () => a }\n`,
    )
    const [handlers, broken, imported] = await Promise.all([
      runCli(['daemon', '--data-dir', dir, '--handlers', missing], CLI_MS),
      runCli(['daemon', '--data-dir', dir, '--handlers', syntax], CLI_MS),
      runCli(['daemon', '--data-dir', dir, '--handlers', importer], CLI_MS),
    ])
    expect(oneLine(handlers)).toContain(`cannot be imported: no such file: ${missing}`)
    // a syntax error is placed: its line and that line's text
    expect(oneLine(broken)).toContain(
      "cannot be imported: Unexpected token '}' at line 2: ok: { run: () => } }",
    )
    expect(oneLine(imported)).toContain(
      `cannot be imported: Unexpected token ';' in ${deep} (imported by ${importer}) at line 3: export const b = (1 +;`,
    )
    await expect(stat(marker)).rejects.toThrow('ENOENT')
    await expect(stat(dir)).rejects.toThrow('ENOENT') // each refused before the data dir was made
  }, 120_000)

  it('simulate refuses a bad duration, seed, DHT check or report directory before any node starts', async () => {
    const file = join(root, 'a-file')
    await writeFile(file, 'x')
    const quick = ['simulate', '--nodes', '1', '--tasks', '1']
    const [huge, extra, dht, seed, reportFile, reportProc] = await Promise.all([
      runCli([...quick, '--duration', 'fixed:1e12'], CLI_MS),
      runCli([...quick, '--duration', 'fixed:20:5'], CLI_MS),
      runCli([...quick, '--dht-check', 'bogus'], CLI_MS),
      runCli([...quick, '--seed', '4294967296'], CLI_MS),
      runCli([...quick, '--report', file], CLI_MS),
      runCli([...quick, '--report', '/proc/taskmesh-report'], CLI_MS), // Node's recursive mkdir spins there
    ])
    expect(oneLine(huge)).toContain(
      '--duration: duration "fixed:1e12": ms must be a positive number up to 86400000',
    )
    expect(oneLine(extra)).toContain('--duration: duration "fixed:20:5": fixed takes one number')
    expect(oneLine(dht)).toContain('--dht-check must be all, none or a positive integer, got "bogus"')
    expect(oneLine(seed)).toContain('--seed must be an integer from 0 to 4294967295, got "4294967296"')
    expect(oneLine(reportFile)).toContain(`--report: ${file} is a file, not a directory`)
    expect(oneLine(reportProc)).toMatch(/--report: cannot make \/proc\/taskmesh-report: ENOENT/)
  }, 120_000)

  it('--wait-ms without --wait, or beyond what a timer takes, is refused before anything is sent', async () => {
    const dir = join(root, 'no-daemon') // no daemon: a command that got past its flags would say so
    const [alone, huge] = await Promise.all([
      runCli(['submit', 'echo', '--data-dir', dir, '--wait-ms', '5'], CLI_MS),
      runCli(['result', 'bafkreiabc', '--data-dir', dir, '--wait', '--wait-ms', '99999999999999'], CLI_MS),
    ])
    expect(oneLine(alone)).toContain('--wait-ms applies only with --wait')
    expect(oneLine(huge)).toContain(
      '--wait-ms must be an integer from 1 to 2147483647 (ms), got "99999999999999"',
    )
  }, 120_000)

  it('a --record-copies outside 0–20 names the flag, the range and the value', async () => {
    const [daemon, simulate] = await Promise.all([
      runCli(['daemon', '--data-dir', join(root, 'copies'), '--record-copies', '21'], CLI_MS),
      runCli(['simulate', '--record-copies', '-1'], CLI_MS),
    ])
    expect(oneLine(daemon)).toContain('--record-copies must be an integer from 0 to 20, got "21"')
    expect(oneLine(simulate)).toContain('--record-copies must be an integer from 0 to 20, got "-1"')
  }, 120_000)

  it('demo and simulate refuse a mesh or a workload too large to finish, naming the flag and the range', async () => {
    const [demo, simulate] = await Promise.all([
      runCli(['demo', '--nodes', '100000'], CLI_MS),
      runCli(['simulate', '--tasks', '100000000'], CLI_MS),
    ])
    expect(oneLine(demo)).toContain('--nodes must be an integer from 1 to 32, got "100000"')
    expect(oneLine(simulate)).toContain('--tasks must be an integer from 1 to 1000000, got "100000000"')
  }, 120_000)

  it('a --custodians outside 0–4 names the flag, the range and the value', async () => {
    const [daemon, simulate] = await Promise.all([
      runCli(['daemon', '--data-dir', join(root, 'custody'), '--custodians', '5'], CLI_MS),
      runCli(['simulate', '--custodians', 'two'], CLI_MS),
    ])
    expect(oneLine(daemon)).toContain('--custodians must be an integer from 0 to 4, got "5"')
    expect(oneLine(simulate)).toContain('--custodians must be an integer from 0 to 4, got "two"')
  }, 120_000)

  it('a --max-connections below 1 names the flag, the range and the value', async () => {
    const run = await runCli(['daemon', '--data-dir', join(root, 'conns'), '--max-connections', '0'], CLI_MS)
    expect(oneLine(run)).toContain('--max-connections must be an integer from 1 to 100000, got "0"')
    expect(run.code).not.toBe(0)
  }, 60_000)

  it('a port in use: one line naming the address and the flag, exit 1, no stack', async () => {
    const [p2p, http] = await Promise.all([
      runCli(['daemon', '--data-dir', join(root, 'a'), '--listen', `/ip4/127.0.0.1/tcp/${busyPort}`], CLI_MS),
      runCli(
        [
          'daemon',
          '--data-dir',
          join(root, 'b'),
          '--listen',
          '/ip4/127.0.0.1/tcp/0',
          '--http-port',
          String(busyPort),
        ],
        CLI_MS,
      ),
    ])
    expect(oneLine(p2p)).toBe(
      `taskmesh: cannot listen on /ip4/127.0.0.1/tcp/${busyPort}: address already in use (EADDRINUSE) (--listen)`,
    )
    expect(oneLine(http)).toBe(
      `taskmesh: --http-port: cannot serve the HTTP API on 127.0.0.1:${busyPort}: address already in use (EADDRINUSE)`,
    )
  }, 120_000)
})
