import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { HttpTransport } from '../../src/client/http-transport.ts'
import type { NodeStatus } from '../../src/node/node-status.ts'
import { type Child, startChild } from './processes.ts'

const ROOT = resolve(import.meta.dirname, '../..')

/** The taskmesh executable as the package declares it (`bin.taskmesh`). */
export const TASKMESH_BIN = resolve(
  ROOT,
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: { taskmesh: string } }).bin
    .taskmesh,
)

/** Runs `taskmesh <args>` to its end and returns its stdout. */
export function taskmeshCli(args: string[]): string {
  return execFileSync(process.execPath, [TASKMESH_BIN, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** Flags `taskmesh daemon` accepts, read from its `--help` (e.g. to see whether it offers `--durability`). */
export function daemonFlags(): Set<string> {
  return new Set(taskmeshCli(['daemon', '--help']).match(/--[a-z][a-z0-9-]*/g) ?? [])
}

/** One daemon of the benchmark's mesh. */
export interface DaemonSpec {
  name: string
  slots: number
  /** Handler modules beside the built-ins. */
  handlers?: string[]
}

/** How to start the daemons. */
export interface MeshSetup {
  /** Where each daemon gets its data dir (`<dir>/<name>`). */
  dir: string
  swarmKey: string
  /** More `taskmesh daemon` flags for every daemon (e.g. `--durability os`). */
  extraFlags: string[]
  /** Write V8 CPU profiles of each daemon under `<profileDir>/<name>/` (`node --cpu-prof`), on its clean stop. */
  profileDir?: string
  log(line: string): void
}

/**
 * A daemon process and its local HTTP API. Requests carry `Authorization: Bearer <token>` when the
 * daemon's `api.json` holds a `token`; they go over kept connections, as `HttpClient`'s do.
 */
export class Daemon {
  private readonly transport: HttpTransport

  constructor(
    readonly name: string,
    readonly child: Child,
    readonly dataDir: string,
    readonly url: string,
    readonly peerId: string,
    readonly multiaddr: string,
    private readonly token: string | undefined,
    /** `performance.now()` of this process when the daemon was spawned (its profile starts about then). */
    readonly spawnedAt: number,
  ) {
    this.transport = new HttpTransport(new URL(url))
  }

  get pid(): number {
    return this.child.pid
  }

  private headers(json: boolean): Record<string, string> {
    return {
      ...(json ? { 'content-type': 'application/json' } : {}),
      ...(this.token === undefined ? {} : { authorization: `Bearer ${this.token}` }),
    }
  }

  /** One request; the status and text of the answer. @throws when the status is not OK or in `ok`. */
  private async request(method: string, path: string, body?: unknown, ok = [200, 201]) {
    const res = await this.transport.request(method, path, {
      headers: this.headers(body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    if (!ok.includes(res.status))
      throw new Error(`${this.name}: ${method} ${path} → HTTP ${res.status}: ${res.text.slice(0, 300)}`)
    return res
  }

  private async call(
    method: string,
    path: string,
    body?: unknown,
    ok = [200, 201],
  ): Promise<{ status: number; body: unknown }> {
    const { status, text } = await this.request(method, path, body, ok)
    return { status, body: text === '' ? undefined : JSON.parse(text) }
  }

  /** `POST /tasks`: the ids of the accepted specs, in order. */
  async submit(specs: unknown[]): Promise<string[]> {
    return ((await this.call('POST', '/tasks', { tasks: specs })).body as { ids: string[] }).ids
  }

  /** `POST /tasks?wait=<ms>`: submits and waits in one request; each result, or null if none in time. */
  async submitAndWait(
    specs: unknown[],
    waitMs: number,
  ): Promise<Array<{ status: string; executor: string } | null>> {
    const r = await this.call('POST', `/tasks?wait=${waitMs}`, { tasks: specs })
    return (r.body as { results: Array<{ status: string; executor: string } | null> }).results
  }

  /** `GET /tasks/<id>?wait=<ms>`: the result record, or undefined when none arrived in time. */
  async result(id: string, waitMs: number): Promise<{ status: string; executor: string } | undefined> {
    const r = await this.call('GET', `/tasks/${id}?wait=${waitMs}`, undefined, [200, 202, 404])
    return r.status === 200 ? (r.body as { status: string; executor: string }) : undefined
  }

  /** `GET /tasks/<id>/story`: this daemon's events about the task (times in Unix ms). */
  async story(id: string): Promise<Array<{ at: number; event: string }>> {
    return (
      (await this.call('GET', `/tasks/${id}/story`)).body as { events: Array<{ at: number; event: string }> }
    ).events
  }

  async status(): Promise<NodeStatus> {
    return (await this.call('GET', '/status')).body as NodeStatus
  }

  /** `GET /metrics`: the Prometheus text (reading it restarts the event-loop delay histogram). */
  async metrics(): Promise<string> {
    return (await this.request('GET', '/metrics', undefined, [200])).text
  }

  /** Closes the kept connections to the API. */
  close(): void {
    this.transport.close()
  }
}

/** Result records signed so far by all of `daemons` (a run is over when every task's is). */
export async function recordsSigned(daemons: Daemon[]): Promise<number> {
  const all = await Promise.all(daemons.map((d) => d.status()))
  return all.reduce((s, st) => s + st.accounting.signatures.recordsSigned, 0)
}

/** Copies of result records written so far into the stores of all of `daemons`. */
export async function copiesStored(daemons: Daemon[]): Promise<number> {
  const all = await Promise.all(daemons.map((d) => d.status()))
  return all.reduce((sum, s) => sum + (s.accounting.datastore.records?.put ?? 0), 0)
}

/** Datastore batches each daemon has committed so far, every namespace. */
export async function datastoreBatches(daemons: Daemon[]): Promise<number[]> {
  const all = await Promise.all(daemons.map((d) => d.status()))
  return all.map((s) => Object.values(s.accounting.datastore).reduce((sum, c) => sum + (c?.batches ?? 0), 0))
}

async function startDaemon(spec: DaemonSpec, bootstrap: string[], setup: MeshSetup): Promise<Daemon> {
  const dataDir = join(setup.dir, spec.name)
  // one folder per daemon: every thread writes a profile of its own, named by pid and thread id
  const nodeFlags = [
    ...(setup.profileDir === undefined
      ? []
      : ['--cpu-prof', '--cpu-prof-dir', join(setup.profileDir, spec.name)]),
    // node's own flags for every daemon, for an experiment (`TASKMESH_BENCH_NODE_FLAGS='--max-semi-space-size=32'`)
    ...(process.env.TASKMESH_BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== ''),
  ]
  const args = [
    ...nodeFlags,
    TASKMESH_BIN,
    'daemon',
    ...['--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--http-port', '0'],
    ...['--slots', String(spec.slots), '--swarm-key', setup.swarmKey],
    ...bootstrap.flatMap((b) => ['--bootstrap', b]),
    ...(spec.handlers ?? []).flatMap((h) => ['--handlers', h]),
    ...setup.extraFlags,
  ]
  const spawnedAt = performance.now()
  const child = startChild(spec.name, process.execPath, args, setup.log)
  try {
    const peerId = (await child.waitForLine((l) => l.startsWith('taskmesh node '))).slice(
      'taskmesh node '.length,
    )
    const multiaddr = (await child.waitForLine((l) => l.startsWith('listening /ip4/127.0.0.1/'))).slice(
      'listening '.length,
    )
    const url = (await child.waitForLine((l) => l.startsWith('http api '))).slice('http api '.length)
    await child.waitForLine((l) => l === 'ready')
    const api = JSON.parse(await readFile(join(dataDir, 'api.json'), 'utf8')) as { token?: unknown }
    const token = typeof api.token === 'string' ? api.token : undefined
    return new Daemon(spec.name, child, dataDir, url, peerId, multiaddr, token, spawnedAt)
  } catch (err) {
    await child.stop(2_000)
    throw err
  }
}

/**
 * Starts the daemons one after another, each bootstrapped to every daemon before it, and resolves
 * once every daemon hears every other's capacity beacons.
 */
export async function startDaemons(specs: DaemonSpec[], setup: MeshSetup): Promise<Daemon[]> {
  const daemons: Daemon[] = []
  try {
    for (const spec of specs) {
      daemons.push(
        await startDaemon(
          spec,
          daemons.map((d) => d.multiaddr),
          setup,
        ),
      )
    }
    await awaitMesh(daemons)
    return daemons
  } catch (err) {
    await stopDaemons(daemons)
    throw err
  }
}

/**
 * Resolves once every daemon hears every other's capacity beacons (and, with `type`, hears `offers`
 * offer it); a busy daemon may have dropped a silent peer from its view for a while.
 */
export async function awaitMesh(daemons: Daemon[], type?: { offers: Daemon; type: string }): Promise<void> {
  const deadline = Date.now() + 30_000
  const heard = async (d: Daemon) => {
    const { peers } = await d.status()
    if (peers.length < daemons.length - 1) return false
    return (
      type === undefined ||
      d === type.offers ||
      peers.some((p) => p.peerId === type.offers.peerId && p.types.includes(type.type))
    )
  }
  for (const d of daemons) {
    while (!(await heard(d))) {
      if (Date.now() > deadline) throw new Error(`${d.name} did not hear the other daemons within 30 s`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

/** Stops daemons cleanly (SIGTERM: a profiled daemon writes its profile then). */
export async function stopDaemons(daemons: Daemon[]): Promise<void> {
  for (const d of daemons) d.close()
  await Promise.all(daemons.map((d) => d.child.stop()))
}
