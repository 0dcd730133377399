import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { HandlerRegistry } from '../../executor/handler-registry.ts'
import type { HttpApi } from '../../http/http-api.ts'
import { createLogger, type Logger, logLevelOf } from '../../log/logger.ts'
import { TaskmeshNode } from '../../node/taskmesh-node.ts'
import { ListenError } from '../../node/wire/listen-failure.ts'
import { openDataDirWarning, PRIVATE_DIR_MODE } from '../../node/wire/private-files.ts'
import type { QueuePolicy } from '../../policy/priority.ts'
import { API_FILE, DEFAULT_DATA_DIR, DEFAULT_LISTEN } from '../defaults.ts'
import { accessReport, type MeshAccess, meshAccess } from '../tasks/mesh-access.ts'
import { isRunning, readApiFile } from '../tasks/target.ts'
import { handlerOutputToStderr, say } from './console-lines.ts'
import { type HttpFlags, planHttp, serveHttp } from './daemon-http.ts'
import { readAllowList, readPeerFile, reloadDenyListOnHangup } from './peer-lists.ts'
import { guardUncaught, ignoreHangup, survivePipeClosed } from './process-guards.ts'
import { queuePolicyOf } from './queue-policy-flags.ts'
import { checkDetection } from './timing-flags.ts'

/** How often the daemon looks for peers that joined or left. */
export const PEER_LOG_INTERVAL_MS = 250
/** How long a stopping daemon may take before it exits anyway. */
export const STOP_TIMEOUT_MS = 15_000
/** How long SIGTERM waits for running tasks before handing them back, by default (ms). */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000

/** Flags of `taskmesh daemon`. */
export interface DaemonFlags extends HttpFlags {
  listen: string[]
  bootstrap: string[]
  dataDir: string
  slots?: number
  handlers: string[]
  labels?: string[]
  memoryMb?: number
  swarmKey?: string
  /** Log level (else `TASKMESH_LOG_LEVEL`, else info). */
  logLevel?: string
  /** JSON lines, readable lines, or JSON unless standard error is a terminal. */
  logFormat?: 'auto' | 'json' | 'pretty'
  /** Run an open mesh on purpose (no swarm key). */
  open: boolean
  mdns: boolean
  queuePolicy: 'aging' | 'strict'
  agingTheta?: number
  agingTau?: number
  agingSteepness?: number
  stealOrder: 'most-urgent' | 'least-urgent'
  unschedulableAfter?: number
  leaseTtl?: number
  /** `sync` (fsync before a submission is acknowledged) or `os`. */
  durability?: 'sync' | 'os'
  /** Peers each record made here is copied to (`recordCopies`). */
  recordCopies?: number
  /** Peers this node hands the tasks it owns to (`custodians`). */
  custodians?: number
  /** Connections kept (`maxConnections`). */
  maxConnections?: number
  /** On SIGTERM/SIGINT, wait up to this long for running tasks (ms). */
  drainTimeout?: number
  beaconInterval?: number
  failureDetection?: number
  maxExecutorLosses?: number
  maxQueueLength?: number
  allowSubmitter: string[]
  allowSubmitters?: string
  /** File of peer ids the node refuses, read again on SIGHUP. */
  denyPeers?: string
  requestTimeout?: number
  maxInboundBytes?: number
}

/** What a running daemon writes to `<dataDir>/api.json` so CLI commands can find it. */
export interface ApiInfo {
  /** Base URL of the HTTP API; absent with `--no-http`. */
  url?: string
  /** The token every HTTP API request must present; absent with `--no-http`. */
  token?: string
  peerId: string
  multiaddrs: string[]
  pid: number
}

async function refuseIfInUse(dataDir: string): Promise<void> {
  const info = await readApiFile(dataDir).catch(() => undefined)
  if (typeof info?.pid === 'number' && info.pid !== process.pid && isRunning(info.pid)) {
    throw new Error(
      `data dir ${dataDir} is in use by a running daemon (pid ${info.pid}); stop it or pick another --data-dir`,
    )
  }
}

async function startNode(
  flags: Omit<DaemonFlags, 'queuePolicy'> & { queuePolicy: QueuePolicy; registry: HandlerRegistry },
  dataDir: string,
  mesh: MeshAccess,
  logger: Logger,
): Promise<TaskmeshNode> {
  try {
    return await TaskmeshNode.create({
      logger,
      dataDir,
      listen: flags.listen.length > 0 ? flags.listen : [DEFAULT_LISTEN],
      bootstrap: flags.bootstrap,
      slots: flags.slots,
      registry: flags.registry,
      labels: flags.labels ?? [],
      memoryMb: flags.memoryMb,
      swarmKey: mesh.kind === 'private' ? mesh.key : undefined,
      mdns: flags.mdns,
      queuePolicy: flags.queuePolicy,
      stealOrder: flags.stealOrder,
      unschedulableAfterMs: flags.unschedulableAfter,
      leaseTtlMs: flags.leaseTtl,
      durability: flags.durability,
      recordCopies: flags.recordCopies,
      custodians: flags.custodians,
      maxConnections: flags.maxConnections,
      beaconIntervalMs: flags.beaconInterval,
      failureDetectionMs: flags.failureDetection,
      maxExecutorLosses: flags.maxExecutorLosses,
      maxQueueLength: flags.maxQueueLength,
      allowSubmitters: await readAllowList(flags.allowSubmitter ?? [], flags.allowSubmitters),
      denyPeers: flags.denyPeers === undefined ? [] : await readPeerFile(flags.denyPeers, '--deny-peers'),
      requestTimeoutMs: flags.requestTimeout,
      maxInboundRequestBytes: flags.maxInboundBytes,
    })
  } catch (err) {
    if (err instanceof ListenError) throw new Error(`${err.message} (--listen)`, { cause: err })
    const message = (err as Error).message
    if (/database failed to open|LOCK/i.test(message)) {
      // LevelDB's own words are in the cause: a lock held, a corrupt or unreadable file, a full disk
      const why = causes(err).join(': ')
      const inUse = /lock/i.test(why) ? `; is another daemon using --data-dir ${dataDir}?` : ''
      throw new Error(`cannot open the datastore in ${join(dataDir, 'datastore')} (${why})${inUse}`, {
        cause: err,
      })
    }
    throw new Error(`cannot start the node: ${message}`, { cause: err })
  }
}

/**
 * `taskmesh daemon`: starts a node, prints its identity (`taskmesh node <peer id>`, one
 * `listening <multiaddr>` line per address, `http api <url>`, `handlers …`, then `ready`), serves
 * the local HTTP API and writes `<dataDir>/api.json`. It prints `peer <id> joined` / `left` as
 * peers' capacity beacons start or stop arriving. On SIGINT/SIGTERM it prints `stopping`,
 * stops the node, removes `api.json`, prints `stopped` and exits 0 (a second signal, or a stop
 * that takes over `STOP_TIMEOUT_MS`, exits 1 at once).
 */
export async function runDaemon(flags: DaemonFlags): Promise<void> {
  const logger = createLogger({ level: logLevelOf(flags.logLevel), format: flags.logFormat })
  survivePipeClosed(logger)
  handlerOutputToStderr() // stdout carries the daemon's lines only
  // before the data dir is made: a refusal changes nothing
  const queuePolicy = queuePolicyOf(flags)
  checkDetection(flags)
  const registry = await HandlerRegistry.withBuiltins(flags.handlers.map((h) => resolve(h))) // errors name the paths
  const http = await planHttp(flags)
  const dataDir = resolve(flags.dataDir ?? DEFAULT_DATA_DIR)
  await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE }).catch((err: NodeJS.ErrnoException) => {
    const why = err.code === 'EEXIST' || err.code === 'ENOTDIR' ? 'a file is in the way' : err.message
    throw new Error(`--data-dir ${dataDir}: cannot make the directory: ${why}`, { cause: err })
  })
  await refuseIfInUse(dataDir)
  const mesh = await meshAccess(flags, dataDir)
  const node = await startNode({ ...flags, queuePolicy, registry }, dataDir, mesh, logger)
  const log = logger.child({ peerId: node.peerId })
  const apiFile = join(dataDir, API_FILE)
  let api: HttpApi | undefined
  let url: string | undefined
  try {
    if (http !== undefined) ({ api, url } = await serveHttp(node, http, flags.httpPort))
    const info: ApiInfo = {
      url,
      token: api?.token,
      peerId: node.peerId,
      multiaddrs: node.multiaddrs,
      pid: process.pid,
    }
    const tmp = `${apiFile}.${process.pid}.tmp`
    // the token lets whoever reads the file use the API: readable by the operator only
    await rm(tmp, { force: true }) // a link planted there is not followed: a new file is made
    await writeFile(tmp, JSON.stringify(info), { mode: 0o600, flag: 'wx' })
    await rename(tmp, apiFile)
  } catch (err) {
    await rm(`${apiFile}.${process.pid}.tmp`, { force: true }) // it holds the token
    await api?.close().catch(() => undefined)
    await node.stop().catch(() => undefined)
    throw err
  }

  say(`taskmesh node ${node.peerId}`)
  for (const addr of node.multiaddrs) say(`listening ${addr}`)
  if (url !== undefined) say(`http api ${url}`)
  const report = accessReport(mesh, node.multiaddrs)
  const openDir = await openDataDirWarning(dataDir)
  if (openDir !== undefined) report.warn.push(openDir)
  for (const line of report.out) say(line)
  for (const line of report.warn) {
    console.error(line)
    log.warn(line.replace(/^warning: /, ''))
  }

  // tell the operator when a peer's capacity beacons start (joined) or stop (left) arriving
  let known = new Set<string>()
  const peerLog = setInterval(() => {
    const now = new Set(node.knownPeers())
    for (const p of now) if (!known.has(p)) peerChange(log, p, 'joined')
    for (const p of known) if (!now.has(p)) peerChange(log, p, 'left')
    known = now
  }, PEER_LOG_INTERVAL_MS)
  peerLog.unref()

  let signals = 0
  let drainTimeoutMs = flags.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT_MS
  let exitCode = 0
  let crashed = false
  const stop = (signal: string) => {
    signals++
    if (signals === 2) {
      say(`${signal} again: handing running tasks back now`)
      log.info({ signal }, 'signal again: handing running tasks back now')
      void node.stop() // ends the drain; the first stop finishes the job
      return
    }
    if (signals > 2) {
      console.error(`${signal} a third time: exiting without a clean stop`)
      log.error({ signal }, 'signal a third time: exiting without a clean stop')
      process.exit(1)
    }
    clearInterval(peerLog)
    const running = node.status().running
    const draining = running > 0 && drainTimeoutMs > 0
    say(
      draining
        ? `${signal}: draining (${running} running, up to ${drainTimeoutMs} ms; send it again to stop now)`
        : `${signal}: stopping`,
    )
    log.info({ signal, running, drainTimeoutMs }, draining ? 'draining' : 'stopping')
    const limit = drainTimeoutMs + STOP_TIMEOUT_MS
    const force = setTimeout(() => {
      console.error(`the node did not stop within ${limit} ms: exiting`)
      log.error({ limitMs: limit }, 'the node did not stop in time: exiting')
      void rm(apiFile, { force: true }).finally(() => process.exit(1))
    }, limit)
    force.unref()
    void (async () => {
      let failed = false
      // the API serves on while the runs drain (a wait on one gets its result), new work refused
      api?.beginStop()
      try {
        await node.stop({ drainTimeoutMs, crashed })
      } catch (err) {
        failed = true
        console.error(`taskmesh: error while stopping: ${(err as Error).message}`)
        log.error({ err }, 'error while stopping')
      } finally {
        await api?.close().catch((err: Error) => log.error({ err }, 'error while closing the HTTP API'))
        await rm(apiFile, { force: true })
      }
      say('stopped')
      log.info('node stopped')
      process.exit(failed ? 1 : exitCode)
    })()
  }
  guardUncaught(log, (reason) => {
    // no waiting on a process in an unknown state; its runs count as executors lost
    ;[drainTimeoutMs, exitCode, crashed] = [0, 1, true]
    stop(reason)
  })
  if (flags.denyPeers !== undefined) reloadDenyListOnHangup(node, flags.denyPeers, log)
  else ignoreHangup(log)
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
  // last: a signal sent once `ready` is read finds its handler (a default one would end the process)
  say(`handlers ${node.types.join(', ')}`)
  say('ready')
  const { slots } = node.status()
  log.info({ addrs: node.multiaddrs, http: url, handlers: node.types, slots, dataDir }, 'node started')
}

/** Tells the operator a peer's capacity beacons started (joined) or stopped (left) arriving. */
function peerChange(log: Logger, peer: string, change: 'joined' | 'left'): void {
  say(`peer ${peer} ${change}`)
  log.info({ peer }, `peer ${change}`)
}

/** The messages of `err` and of its causes, outermost first (at most 5). */
function causes(err: unknown): string[] {
  const said: string[] = []
  for (let e = err; e instanceof Error && said.length < 5; e = e.cause) said.push(e.message)
  return said
}
