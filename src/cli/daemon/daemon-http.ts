import { readFile } from 'node:fs/promises'
import { checkBindHost, DEFAULT_HTTP_HOST, parseTokenFile } from '../../http/bind-host.ts'
import { HttpApi } from '../../http/http-api.ts'
import { opsRoutes } from '../../http/ops-routes.ts'
import type { TaskmeshNode } from '../../node/taskmesh-node.ts'

/** The flags of `taskmesh daemon` that shape its HTTP API. */
export interface HttpFlags {
  http: boolean
  httpPort: number
  /** Address to bind (default 127.0.0.1); any other than loopback needs `httpTokenFile`. */
  httpHost?: string
  /** A file holding the API token (else a random one per start). */
  httpTokenFile?: string
}

/** Where the API will listen and with which token, checked before the node starts. */
export interface HttpPlan {
  host: string
  token?: string
}

/**
 * Checks the HTTP flags before anything starts: `--http-host` names one address, and one beyond
 * loopback comes with a token (`--http-token-file`, read and checked here).
 * @throws Error naming the flag and what to do.
 */
export async function planHttp(flags: HttpFlags): Promise<HttpPlan | undefined> {
  if (!flags.http) return undefined
  let token: string | undefined
  if (flags.httpTokenFile !== undefined) {
    const file = flags.httpTokenFile
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new Error(`--http-token-file ${file}: cannot read it (${err.code ?? err.message})`, {
        cause: err,
      })
    })
    token = parseTokenFile(text, file)
  }
  const host = flags.httpHost ?? DEFAULT_HTTP_HOST
  checkBindHost(host, token)
  return token === undefined ? { host } : { host, token }
}

/**
 * Serves the node's HTTP API as planned, with the operations routes (`/metrics` with the process'
 * metrics too, `/healthz`); resolves with the API and its base URL.
 */
export async function serveHttp(
  node: TaskmeshNode,
  plan: HttpPlan,
  port: number,
): Promise<{ api: HttpApi; url: string }> {
  node.metrics.withProcessMetrics()
  const api = new HttpApi(node, { token: plan.token, routes: opsRoutes(node) })
  const url = await api.listen(port, plan.host).catch((err: Error) => {
    throw new Error(`--http-port: ${err.message}`, { cause: err })
  })
  return { api, url }
}
