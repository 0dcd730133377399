import type { IncomingMessage, ServerResponse } from 'node:http'
import { ApiRefusal } from './guard.ts'

/**
 * Routes served beside the API's own. Returns true when it answered the request, false to let the
 * API route it.
 */
export type ExtraRoutes = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>

/** What the operations routes read of a node. */
export interface OpsTarget {
  /** `running` when the node takes work; anything else (`new`, `draining`, `stopping`…) is not ready. */
  readonly state: string
  readonly peerId: string
  /** The node's Prometheus registry: its text format and content type. */
  readonly metrics: { readonly contentType: string; text(): Promise<string> }
}

function allowGet(req: IncomingMessage, res: ServerResponse, path: string): void {
  if (req.method === 'GET' || req.method === 'HEAD') return
  res.setHeader('allow', 'GET, HEAD')
  throw new ApiRefusal(405, 'ERR_METHOD_NOT_ALLOWED', `${req.method} ${path}: use GET`, 'method')
}

function noQuery(url: URL): void {
  const [name] = [...url.searchParams.keys()]
  if (name !== undefined) {
    throw new ApiRefusal(
      400,
      'ERR_BAD_REQUEST',
      `${url.pathname} takes no query parameter, got "${name}"`,
      name,
    )
  }
}

/**
 * The operations routes of a daemon:
 * - `GET /metrics` → `200` the node's metrics in Prometheus' text format (`taskmesh_*`, and the
 *   process' own when the daemon added them).
 * - `GET /healthz` → `200 { status: 'ok', state, peerId }` while the node runs and takes work;
 *   `503 { status: 'unavailable', state, peerId }` while it starts, drains or stops — liveness and
 *   readiness alike (a process that does not answer is not alive).
 */
export function opsRoutes(node: OpsTarget): ExtraRoutes {
  return async (req, res, url) => {
    if (url.pathname === '/metrics') {
      allowGet(req, res, url.pathname)
      noQuery(url)
      const text = await node.metrics.text()
      res.writeHead(200, {
        'content-type': node.metrics.contentType,
        'content-length': Buffer.byteLength(text),
        'cache-control': 'no-store',
      })
      res.end(req.method === 'HEAD' ? undefined : text)
      return true
    }
    if (url.pathname === '/healthz') {
      allowGet(req, res, url.pathname)
      noQuery(url)
      const ready = node.state === 'running'
      const body = JSON.stringify({
        status: ready ? 'ok' : 'unavailable',
        state: node.state,
        peerId: node.peerId,
      })
      res.writeHead(ready ? 200 : 503, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
      })
      res.end(req.method === 'HEAD' ? undefined : body)
      return true
    }
    return false
  }
}
