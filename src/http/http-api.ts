import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { errorCode } from '../node/error-code.ts'
import type { TaskmeshNode } from '../node/taskmesh-node.ts'
import { MAX_FRAME_BYTES } from '../protocol/constants.ts'

/** Longest `?wait=` a result request may ask for. */
export const MAX_HTTP_WAIT_MS = 10 * 60_000

const STATUS_OF: Record<string, number> = {
  ERR_INVALID_TASK: 400,
  ERR_UNKNOWN_HANDLER: 400,
  ERR_QUEUE_FULL: 503,
  ERR_BAD_REQUEST: 400,
}

class BadRequestError extends Error {
  readonly code = 'ERR_BAD_REQUEST'
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_FRAME_BYTES) throw new BadRequestError(`body over the limit of ${MAX_FRAME_BYTES} bytes`)
    chunks.push(chunk as Buffer)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (err) {
    throw new BadRequestError(`body is not valid JSON: ${(err as Error).message}`)
  }
}

/**
 * The daemon's local HTTP API (JSON):
 * - `POST /tasks` with one spec or `{ "tasks": [spec, …] }` → `201 { ids }`; `400` names the bad field.
 * - `GET /tasks/<id>` → `200` result record, or `404`; `?wait=<ms>` long-polls.
 * - `GET /status` → the node's status.
 */
export class HttpApi {
  private server: Server | undefined

  constructor(private readonly node: TaskmeshNode) {}

  /** Listens on `host:port` (port 0 picks a free one); resolves with the URL. */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => {
      this.route(req, res).catch((err: Error) => {
        const code = errorCode(err)
        send(res, STATUS_OF[code] ?? 500, { error: err.message, code, ...fieldOf(err) })
      })
    })
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => resolve())
    })
    const addr = server.address() as AddressInfo
    return `http://${host}:${addr.port}`
  }

  async close(): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server === undefined) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const parts = url.pathname.split('/').filter((p) => p.length > 0)
    if (req.method === 'POST' && parts.length === 1 && parts[0] === 'tasks') {
      const body = await readJson(req)
      const specs =
        typeof body === 'object' && body !== null && 'tasks' in body
          ? (body as { tasks: unknown }).tasks
          : [body]
      if (!Array.isArray(specs)) throw new BadRequestError('"tasks" must be an array')
      const handles = await this.node.submitMany(specs)
      return send(res, 201, { ids: handles.map((h) => h.id) })
    }
    if (req.method === 'GET' && parts.length === 2 && parts[0] === 'tasks') {
      const wait = url.searchParams.get('wait')
      const waitMs = wait === null ? 0 : Number(wait)
      if (!Number.isFinite(waitMs) || waitMs < 0)
        throw new BadRequestError(`wait must be a number of ms, got "${wait}"`)
      const record =
        waitMs > 0
          ? await this.node
              .waitResult(parts[1], AbortSignal.timeout(Math.min(waitMs, MAX_HTTP_WAIT_MS)))
              .catch(() => undefined)
          : await this.node.getResult(parts[1])
      return record === undefined
        ? send(res, 404, { error: `no result for ${parts[1]} yet` })
        : send(res, 200, record)
    }
    if (req.method === 'GET' && parts.length === 1 && parts[0] === 'status') {
      return send(res, 200, this.node.status())
    }
    send(res, 404, { error: `no route ${req.method} ${url.pathname}` })
  }
}

function fieldOf(err: Error): { field?: string } {
  const field = (err as { field?: unknown }).field
  return typeof field === 'string' ? { field } : {}
}
