import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Fault } from '../../src/chaos/history.ts'
import { apiFetch, type Daemon, hears, type Placed, placeDaemon, startDaemon } from './daemons.ts'
import { EXECUTION_LOG_ENV } from './recording-handlers.js'
import { pause } from './workload.ts'

/** How long a daemon may take to start, or to hear its peers (a loaded 2-core machine is slow), ms. */
const STARTUP_MS = 60_000

const HANDLERS = fileURLToPath(new URL('./recording-handlers.js', import.meta.url))

/** How every daemon of a chaos cluster runs. */
export interface ClusterOptions {
  /** Directory for the data dirs and execution logs. */
  root: string
  /** Nodes, named n0, n1, … */
  nodes: number
  slots: number
  leaseTtlMs: number
  beaconMs: number
  /** Each node bootstraps from this many others (the next ones round the ring). @defaultValue every other node */
  bootstrapPeers?: number
  /** Extra `taskmesh daemon` flags. */
  args?: string[]
}

/** One node of the cluster: its place (data dir, port, peer id), its log and its current life. */
export interface ChaosNode {
  name: string
  placed: Placed
  logFile: string
  daemon: Daemon
  /** `cut`: running, and taking submissions, but cut off the network (see {@link ChaosCluster.cut}). */
  state: 'up' | 'down' | 'frozen' | 'cut'
  /** Resolves when no submit to this node is in flight (the nemesis waits for it). */
  idle: Promise<void>
  /** The nemesis is about to hit it: no new submit picks it. */
  draining: boolean
}

/** How long a fault waits at most for its node to run a task, ms. */
const BUSY_WAIT_MS = 5_000
/** Pause between two looks at a node's status while a fault waits for it to run a task, ms. */
const BUSY_POLL_MS = 25

/**
 * Resolves once `daemon` reports a running task (`GET /status`), or after {@link BUSY_WAIT_MS}: a
 * fault that hits a node with nothing running tests nothing, so it waits for work in flight (on a
 * busy machine the node may be between tasks at the planned moment).
 */
async function runsWork(daemon: Daemon): Promise<void> {
  const deadline = Date.now() + BUSY_WAIT_MS
  while (Date.now() < deadline) {
    const status = await apiFetch(daemon, '/status', { signal: AbortSignal.timeout(BUSY_WAIT_MS) })
      .then((r) => r.json() as Promise<{ running?: number }>)
      .catch(() => undefined)
    if ((status?.running ?? 0) > 0) return
    await pause(BUSY_POLL_MS)
  }
}

/**
 * N `taskmesh daemon` processes on 127.0.0.1 that the nemesis kills (SIGKILL), freezes (SIGSTOP),
 * thaws (SIGCONT), restarts on the same data dir and port, and cuts off the network and lets back
 * (each daemon's `--deny-peers` file, read again on SIGHUP). Every fault is recorded with the
 * life (process id) it hit. Each node bootstraps from more than one peer, so no two nodes reach
 * each other only through a third that may die.
 */
export class ChaosCluster {
  readonly faults: Fault[] = []
  private constructor(
    private readonly opts: ClusterOptions,
    readonly nodes: ChaosNode[],
  ) {}

  /** Places every node, starts them all at once, and resolves when each hears every other. */
  static async start(opts: ClusterOptions): Promise<ChaosCluster> {
    const names = Array.from({ length: opts.nodes }, (_, i) => `n${i}`)
    const placed = await Promise.all(names.map((n) => placeDaemon(opts.root, n)))
    const cluster = new ChaosCluster(opts, [])
    const daemons = await Promise.all(names.map((_, i) => cluster.launch(placed, i)))
    names.forEach((name, i) => {
      cluster.nodes.push({
        name,
        placed: placed[i],
        logFile: cluster.logFile(name),
        daemon: daemons[i],
        state: 'up',
        idle: Promise.resolve(),
        draining: false,
      })
    })
    await Promise.all(
      daemons.map((d) =>
        hears(
          d,
          daemons.filter((o) => o !== d).map((o) => o.peerId),
          STARTUP_MS,
        ),
      ),
    )
    return cluster
  }

  node(name: string): ChaosNode {
    const node = this.nodes.find((n) => n.name === name)
    if (node === undefined) throw new Error(`no node ${name}`)
    return node
  }

  /** Nodes that run, are not frozen and are not about to be hit: the ones to submit to (a cut one too). */
  up(): ChaosNode[] {
    return this.nodes.filter((n) => (n.state === 'up' || n.state === 'cut') && !n.draining)
  }

  /** Node names by peer id. */
  names(): Map<string, string> {
    return new Map(this.nodes.map((n) => [n.placed.peerId, n.name]))
  }

  /** SIGKILL, once the node runs a task (see {@link runsWork}); resolves once the process is gone. */
  async kill(name: string): Promise<void> {
    const node = await this.hit(name, 'kill')
    await node.daemon.process.exited
  }

  /** SIGSTOP, once the node runs a task (see {@link runsWork}): the process stays, silent. */
  async freeze(name: string): Promise<void> {
    await this.hit(name, 'freeze')
  }

  /**
   * Parts the node and the nodes of `side` from the rest of the mesh, once the node runs a task
   * (see {@link runsWork}): the deny list of each node of the part names every node outside it, so
   * they drop their connections across and refuse new ones — each part takes the other's nodes for
   * dead and runs on, taking submissions. Resolves once every daemon of the part read its list.
   */
  async cut(name: string, side: string[] = []): Promise<void> {
    await this.hit(name, 'cut', side)
  }

  /** Lets a part back: its nodes' deny lists are emptied (the mesh forms whole as after any cut). */
  async mend(name: string, side: string[] = []): Promise<void> {
    const part = [name, ...side].map((n) => this.node(n))
    for (const node of part)
      if (node.state !== 'cut') throw new Error(`${node.name} is ${node.state}, not cut`)
    await Promise.all(part.map((node) => this.deny(node, [])))
    for (const node of part) {
      node.state = 'up'
      this.recovered(node)
    }
  }

  /** SIGCONT a frozen node. */
  thaw(name: string): void {
    const node = this.node(name)
    if (node.state !== 'frozen') throw new Error(`${name} is ${node.state}, not frozen`)
    node.daemon.process.signal('SIGCONT')
    node.state = 'up'
    this.recovered(node)
  }

  /** Starts a killed node again on its data dir and port; resolves once it is ready. */
  async restart(name: string): Promise<void> {
    const node = this.node(name)
    if (node.state !== 'down') throw new Error(`${name} is ${node.state}, not down`)
    const i = this.nodes.indexOf(node)
    node.daemon = await this.launch(
      this.nodes.map((n) => n.placed),
      i,
    )
    node.state = 'up'
    this.recovered(node)
  }

  /** Thaws every frozen node, lets back every cut one and restarts every killed one. */
  async healAll(): Promise<void> {
    for (const n of this.nodes) if (n.state === 'frozen') this.thaw(n.name)
    const cut = this.nodes.filter((n) => n.state === 'cut')
    if (cut.length > 0)
      await this.mend(
        cut[0].name,
        cut.slice(1).map((n) => n.name),
      )
    await Promise.all(this.nodes.filter((n) => n.state === 'down').map((n) => this.restart(n.name)))
  }

  /** Stops every daemon (SIGTERM, then SIGKILL); thaws frozen ones first so they can exit. */
  async stop(): Promise<void> {
    for (const n of this.nodes) if (n.state === 'frozen') n.daemon.process.signal('SIGCONT')
    await Promise.all(this.nodes.map((n) => n.daemon.process.kill(2_000)))
  }

  /** Runs `submit` on `node` while the nemesis waits for it to finish before touching the node. */
  async withNode<T>(node: ChaosNode, submit: () => Promise<T>): Promise<T> {
    const run = node.idle.then(submit)
    node.idle = run.then(
      () => undefined,
      () => undefined,
    )
    return run
  }

  /**
   * Keeps submits away from a running node (`draining`), waits until none is in flight and the
   * node runs a task, then kills (SIGKILL), freezes (SIGSTOP) or cuts it (with the nodes of
   * `side`) and records the fault, before submits may pick the node again.
   */
  private async hit(name: string, kind: Fault['kind'], side: string[] = []): Promise<ChaosNode> {
    const node = this.node(name)
    const part = [node, ...side.map((n) => this.node(n))]
    for (const n of part) if (n.state !== 'up') throw new Error(`${n.name} is ${n.state}, not up`)
    node.draining = true
    try {
      let idle: Promise<void>
      do {
        idle = node.idle
        await idle
      } while (idle !== node.idle)
      await runsWork(node.daemon)
      const at = Date.now()
      for (const n of part)
        this.faults.push({ kind, node: n.name, incarnation: n.daemon.process.pid ?? 0, at })
      if (kind === 'cut') {
        const outside = this.nodes.filter((n) => !part.includes(n)).map((n) => n.placed.peerId)
        for (const n of part) n.state = 'cut'
        await Promise.all(part.map((n) => this.deny(n, outside)))
      } else {
        node.state = kind === 'kill' ? 'down' : 'frozen'
        node.daemon.process.signal(kind === 'kill' ? 'SIGKILL' : 'SIGSTOP')
      }
    } finally {
      node.draining = false
    }
    return node
  }

  private recovered(node: ChaosNode): void {
    const fault = this.faults.findLast((f) => f.node === node.name)
    if (fault !== undefined && fault.recoveredAt === undefined) fault.recoveredAt = Date.now()
  }

  private logFile(name: string): string {
    return `${this.opts.root}/${name}.executions.log`
  }

  private denyFile(name: string): string {
    return `${this.opts.root}/${name}.deny`
  }

  /** Writes the node's deny list, has the daemon read it (SIGHUP) and waits until it says it has. */
  private async deny(node: ChaosNode, peers: string[]): Promise<void> {
    await writeFile(this.denyFile(node.name), peers.map((p) => `${p}\n`).join(''))
    const from = node.daemon.process.mark()
    node.daemon.process.signal('SIGHUP')
    await node.daemon.process.waitForLine(/^deny list reloaded: /, { from, timeoutMs: STARTUP_MS })
  }

  private async launch(placed: Placed[], i: number): Promise<Daemon> {
    const name = `n${i}`
    await writeFile(this.denyFile(name), '')
    const peers = Math.min(this.opts.bootstrapPeers ?? placed.length - 1, placed.length - 1)
    const bootstrap = Array.from({ length: peers }, (_, k) => placed[(i + 1 + k) % placed.length].addr)
    return startDaemon(this.opts.root, name, {
      slots: this.opts.slots,
      leaseTtlMs: this.opts.leaseTtlMs,
      beaconMs: this.opts.beaconMs,
      listen: placed[i].listen,
      bootstrap,
      args: ['--handlers', HANDLERS, '--deny-peers', this.denyFile(name), ...(this.opts.args ?? [])],
      env: { [EXECUTION_LOG_ENV]: this.logFile(name) },
      readyMs: STARTUP_MS,
    })
  }
}
