import { mkdir, readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadOrCreatePeerKey } from '../../src/node/wire/identity.ts'
import { ensureSwarmKeyFile, readSwarmKeyFile } from '../../src/node/wire/swarm-key.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import { DaemonProcess } from './cli-process.ts'

/**
 * Crash tests run real `taskmesh daemon` processes on loopback and kill them for real
 * (`SIGKILL`, `SIGSTOP`). Short leases and beacons keep each test within seconds.
 */
export const LEASE_TTL_MS = 1_500
export const BEACON_MS = 250
/** The nodes' failure-detection window with these beacons: 3 × 250 + 1000 ms. */
export const DETECTION_MS = 3 * BEACON_MS + 1_000

/** A daemon started for a crash test, with its HTTP API. */
export interface Daemon {
  process: DaemonProcess
  name: string
  dir: string
  peerId: string
  addr: string
  api: string
  /** The HTTP API's token (from api.json): {@link apiFetch} sends it. */
  token: string
}

export interface DaemonSpec {
  slots?: number
  /** Peers to join through (multiaddrs with /p2p/). */
  bootstrap?: string[]
  labels?: string
  leaseTtlMs?: number
  /** Interval of capacity beacons. @defaultValue BEACON_MS */
  beaconMs?: number
  /** Listen address. @defaultValue `/ip4/127.0.0.1/tcp/0` (see {@link placeDaemon}) */
  listen?: string
  args?: string[]
  /** Variables added to the daemon's environment. */
  env?: Record<string, string>
  /** How long the daemon may take to print `ready`, ms. @defaultValue 20 000 */
  readyMs?: number
}

/** A daemon's data dir with its peer key created, and a free loopback port: its address is known before it starts. */
export interface Placed {
  dir: string
  peerId: string
  listen: string
  addr: string
}

/**
 * A free loopback port below Linux's ephemeral range (32768–60999): a daemon keeps its port across
 * restarts, and a port from that range can be taken meanwhile by any outgoing connection on the
 * machine (a daemon of a test running beside this one failed to start on `EADDRINUSE`).
 */
async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000)
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer()
      server.once('error', () => resolve(false))
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
    })
    if (free) return port
  }
}

/** Creates `<root>/<name>` with a peer key and picks a free port, so daemons can bootstrap from each other and start at once. */
export async function placeDaemon(root: string, name: string): Promise<Placed> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true })
  const peerId = peerIdFromPrivateKey(await loadOrCreatePeerKey(dir)).toString()
  const port = await freePort()
  const listen = `/ip4/127.0.0.1/tcp/${port}`
  return { dir, peerId, listen, addr: `${listen}/p2p/${peerId}` }
}

/** The swarm key file of the daemons under `root`: made once (daemons start at once, and must not read it half-written). */
const swarmKeys = new Map<string, Promise<string>>()
export function swarmKeyOf(root: string): Promise<string> {
  let key = swarmKeys.get(root)
  if (key === undefined) {
    const file = join(root, 'swarm.key')
    key = ensureSwarmKeyFile(file).then(() => file)
    swarmKeys.set(root, key)
  }
  return key
}

/** The key of the private mesh the daemons under `root` form: give it to in-process nodes that join them. */
export async function meshKey(root: string): Promise<Uint8Array> {
  return readSwarmKeyFile(await swarmKeyOf(root))
}

/**
 * Starts `taskmesh daemon` on loopback with its data dir at `<root>/<name>`; resolves once it is
 * ready. The daemons of one root form one private mesh: they share `<root>/swarm.key`.
 */
export async function startDaemon(root: string, name: string, spec: DaemonSpec = {}): Promise<Daemon> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true })
  const listen = spec.listen ?? '/ip4/127.0.0.1/tcp/0'
  const key = await swarmKeyOf(root)
  const args = [
    ...['--swarm-key', key],
    ...['--data-dir', dir, '--listen', listen, '--slots', String(spec.slots ?? 1)],
    ...[
      '--lease-ttl',
      String(spec.leaseTtlMs ?? LEASE_TTL_MS),
      '--beacon-interval',
      String(spec.beaconMs ?? BEACON_MS),
    ],
    ...(spec.bootstrap ?? []).flatMap((b) => ['--bootstrap', b]),
    ...(spec.labels === undefined ? [] : ['--labels', spec.labels]),
    ...(spec.args ?? []),
  ]
  const process = new DaemonProcess(args, spec.env)
  const { peerId, addr } = await process.ready(spec.readyMs)
  const { url, token } = JSON.parse(await readFile(join(dir, 'api.json'), 'utf8')) as {
    url: string
    token: string
  }
  return { process, name, dir, peerId, addr, api: url, token }
}

/** A request to the daemon's HTTP API `path` (e.g. `/status`), as its operator: with its token. */
export function apiFetch(daemon: Daemon, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers)
  headers.set('authorization', `Bearer ${daemon.token}`)
  return fetch(`${daemon.api}${path}`, { ...init, headers })
}

/** Resolves once `daemon` printed that it hears every one of `peers` (fails after `timeoutMs`). */
export async function hears(daemon: Daemon, peers: string[], timeoutMs?: number): Promise<void> {
  await Promise.all(
    peers.map((p) => daemon.process.waitForLine(new RegExp(`^peer ${p} joined$`), { timeoutMs })),
  )
}

/** `POST /tasks`: the ids of the accepted tasks. */
export async function submit(daemon: Daemon, specs: unknown[]): Promise<string[]> {
  const res = await apiFetch(daemon, '/tasks', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tasks: specs }),
  })
  const body = (await res.json()) as { ids?: string[]; error?: string }
  if (res.status !== 201 || body.ids === undefined) throw new Error(`submit: ${res.status} ${body.error}`)
  return body.ids
}

/** How long past its `wait` a result request may take before the client gives up, ms. */
const RESULT_REQUEST_SLACK_MS = 15_000

/** `GET /tasks/<id>?wait=…`: the record, or undefined when none landed within `waitMs`. */
export async function result(daemon: Daemon, id: string, waitMs = 0): Promise<ResultRecord | undefined> {
  const res = await apiFetch(daemon, `/tasks/${id}${waitMs > 0 ? `?wait=${waitMs}` : ''}`, {
    signal: AbortSignal.timeout(waitMs + RESULT_REQUEST_SLACK_MS),
  })
  if (res.status !== 200) {
    await res.body?.cancel()
    return undefined
  }
  return (await res.json()) as ResultRecord
}

/** Waits for every id's record at `daemon` (in id order); fails naming the ids still missing. */
export async function results(daemon: Daemon, ids: string[], waitMs = 15_000): Promise<ResultRecord[]> {
  const records = await Promise.all(ids.map((id) => result(daemon, id, waitMs)))
  const missing = ids.filter((_, i) => records[i] === undefined)
  if (missing.length > 0) {
    throw new Error(
      `${daemon.name}: no result for ${missing.length} of ${ids.length} tasks:\n${daemon.process.output()}`,
    )
  }
  return records as ResultRecord[]
}

/**
 * Waits for every id's record at each daemon, then until every daemon reads the same record for
 * every id (same executor and epoch: a task that ran twice converges on the one the selector picks).
 */
export async function agreed(daemons: Daemon[], ids: string[], waitMs = 15_000): Promise<ResultRecord[]> {
  const key = (records: ResultRecord[]) => JSON.stringify(records.map((r) => [r.executor, r.epoch]))
  const deadline = Date.now() + 10_000
  for (;;) {
    const views = await Promise.all(daemons.map((d) => results(d, ids, waitMs)))
    if (views.every((v) => key(v) === key(views[0]))) return views[0]
    if (Date.now() > deadline) {
      throw new Error(`the daemons read different records:\n${views.map(key).join('\n')}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** The daemon's `GET /status` (the fields the crash tests read). */
export interface Status {
  peerId: string
  running: number
  queued: number
  leasedIn: number
  leasedOut: number
  counters: Record<string, number>
}

export async function status(daemon: Daemon): Promise<Status> {
  const res = await apiFetch(daemon, '/status')
  return (await res.json()) as Status
}

/** What a daemon has sent so far for its result reads: fetch frames, kad-dht streams opened (its accounting). */
export async function readsSent(daemon: Daemon): Promise<{ fetch: number; kad: number }> {
  const res = await apiFetch(daemon, '/status')
  const { accounting } = (await res.json()) as {
    accounting: { protocols: Record<string, { sends: number; streamsOut: number } | undefined> }
  }
  return {
    fetch: accounting.protocols.fetch?.sends ?? 0,
    kad: accounting.protocols['kad-dht']?.streamsOut ?? 0,
  }
}

/** Polls `probe` every 50 ms until it returns something other than undefined (fails after `timeoutMs`). */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`eventually: ${what} (after ${timeoutMs} ms)`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** A `sleep` task spec of `ms` that outputs `output`. */
export function sleepTask(ms: number, output: unknown, extra: Record<string, unknown> = {}) {
  return { type: 'sleep', input: { ms, output }, ...extra }
}
