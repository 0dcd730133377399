import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { HttpClient } from '../../client/http-client.ts'
import type { MeshClient } from '../../client/mesh-client.ts'
import { API_FILE, DEFAULT_DATA_DIR } from '../defaults.ts'

/** Where a CLI command sends its request. */
export interface TargetOptions {
  api?: string
  peer?: string
  dataDir?: string
  /** With `peer`: the private mesh's key file. */
  swarmKey?: string
  /** With `peer`: the client's key file (created if missing), so it keeps its peer id. */
  identity?: string
  /** With `api`: the API's token (a daemon found through `dataDir` gives its own). */
  apiToken?: string
}

/** What a command told to give a token reads (see `HttpClientOptions.tokenHint`). */
const API_TOKEN_HINT = 'pass --api-token (or set TASKMESH_API_TOKEN) with the token from its api.json'

/** The token for `--api`: the flag's, else `$TASKMESH_API_TOKEN`. */
export function apiTokenOf(opts: Pick<TargetOptions, 'apiToken'>): string | undefined {
  const env = process.env.TASKMESH_API_TOKEN
  return opts.apiToken ?? (env === undefined || env === '' ? undefined : env)
}

/** What `<dataDir>/api.json` holds (see `ApiInfo` in daemon.ts). */
export interface ApiFile {
  url?: string
  token?: string
  peerId?: string
  multiaddrs?: string[]
  pid?: number
}

/** How a command that found no daemon may reach one instead: `--api`, and `--peer` where it takes it. */
const REACH_HTTP = '--api <url>'
const REACH_ANY = '--api <url> or --peer <multiaddr>'

/**
 * Reads `<dataDir>/api.json`; `reach` is what the command takes instead (the hint of a refusal).
 * @throws when it is missing or not JSON, or names a daemon process that is not running (a
 *   daemon killed with SIGKILL leaves it behind), saying so.
 */
export async function readApiFile(dataDir: string, reach = REACH_HTTP): Promise<ApiFile> {
  const file = join(dataDir, API_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        `no running daemon found: ${file} does not exist (start one with "taskmesh daemon --data-dir ${dataDir}", or pass ${reach})`,
      )
    }
    throw new Error(`cannot read ${file}: ${(err as Error).message}`)
  }
  let info: ApiFile
  try {
    const parsed = JSON.parse(text) as unknown
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object')
    info = parsed as ApiFile
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}); remove it if no daemon runs`)
  }
  if (typeof info.pid === 'number' && !isRunning(info.pid)) {
    throw new Error(
      `no running daemon found: ${file} names pid ${info.pid}, which is not running (a daemon that was killed leaves it behind; start one with "taskmesh daemon --data-dir ${dataDir}")`,
    )
  }
  return info
}

/**
 * Refuses a flag that does not apply to the target the others choose (it would be ignored):
 * `--api-token` without `--api`, `--swarm-key` or `--identity` without `--peer`.
 */
export function checkTargetFlags(opts: TargetOptions): void {
  if (opts.apiToken !== undefined && opts.api === undefined) {
    throw new Error(
      '--api-token applies only with --api <url> (a daemon found through --data-dir gives its own)',
    )
  }
  if (opts.peer !== undefined) return
  for (const [flag, value] of [
    ['--swarm-key', opts.swarmKey],
    ['--identity', opts.identity],
  ] as const) {
    if (value !== undefined) throw new Error(`${flag} applies only with --peer <multiaddr>`)
  }
}

/** The light client's hint of a private mesh (it names its option too): the CLI says its own. */
const CLIENT_KEY_HINT = / \(is it a private mesh\?[^()]*\)$/
/** What a dial refused in its handshake, without the mesh's key, adds. */
const CLI_KEY_HINT = " (a private mesh needs its key: --swarm-key <the mesh's swarm.key>)"

/** Options of {@link openTarget}. */
export interface OpenTargetOptions {
  /** The command reads the HTTP API only (it refuses `--peer`): its hints name `--api` alone. */
  httpOnly?: boolean
}

/** Picks the target: `--peer` (light client), else `--api`, else the daemon found in `--data-dir`. */
export async function openTarget(opts: TargetOptions, how: OpenTargetOptions = {}): Promise<MeshClient> {
  checkTargetFlags(opts)
  if (opts.peer !== undefined) {
    const { TaskmeshClient } = await import('../../client/taskmesh-client.ts')
    const { readSwarmKeyFile } = await import('../../node/wire/swarm-key.ts')
    const { loadOrCreateKeyFile } = await import('../../node/wire/identity.ts')
    const connecting = TaskmeshClient.connect(opts.peer, {
      swarmKey: opts.swarmKey === undefined ? undefined : await readSwarmKeyFile(opts.swarmKey),
      privateKey: opts.identity === undefined ? undefined : await loadOrCreateKeyFile(opts.identity),
    })
    if (opts.swarmKey !== undefined) return connecting
    return connecting.catch((err: Error) => {
      // a daemon's mesh is private by default: a handshake that fails without its key is said once,
      // in the CLI's words (the client's hint names its library option too)
      if (!CLIENT_KEY_HINT.test(err.message)) throw err
      throw new Error(err.message.replace(CLIENT_KEY_HINT, CLI_KEY_HINT), { cause: err })
    })
  }
  if (opts.api !== undefined) {
    let url: URL
    try {
      url = new URL(opts.api)
    } catch {
      throw new Error(`--api "${opts.api}" is not a URL (e.g. http://127.0.0.1:8080)`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`--api "${opts.api}" must be an http:// or https:// URL`)
    }
    return new HttpClient(opts.api, { source: '--api', token: apiTokenOf(opts), tokenHint: API_TOKEN_HINT })
  }
  const dataDir = resolve(opts.dataDir ?? DEFAULT_DATA_DIR)
  const file = join(dataDir, API_FILE)
  const info = await readApiFile(dataDir, how.httpOnly === true ? REACH_HTTP : REACH_ANY)
  if (typeof info.url !== 'string') {
    const peer = info.multiaddrs?.[0]
    const instead =
      how.httpOnly === true ? ': this command needs one' : peer === undefined ? '' : `; use --peer ${peer}`
    throw new Error(`the daemon in ${dataDir} serves no HTTP API (started with --no-http)${instead}`)
  }
  if (typeof info.token !== 'string') {
    throw new Error(`${file} holds no API token: it was written by an older daemon; restart the daemon`)
  }
  return new HttpClient(info.url, { source: `from ${file}`, token: info.token })
}

/**
 * True when a process with this pid exists and is not a zombie: a daemon killed with SIGKILL stays
 * one until its parent reaps it (seconds, or for good under a parent that does not), its ports
 * closed (Linux: read from `/proc`; elsewhere any process counts).
 */
export function isRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  return !isZombie(pid)
}

/** True when `/proc` says the process has exited and waits to be reaped (state Z or X). */
function isZombie(pid: number): boolean {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return false // no /proc (not Linux): the process exists, as kill said
  }
  // "<pid> (<command>) <state> …": the command may hold spaces and parentheses
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
  return state === 'Z' || state === 'X'
}
