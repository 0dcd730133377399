import http from 'node:http'
import https from 'node:https'
import { onAbort } from '../util/abort-fanout.ts'

/** A daemon's answer: its status and body text. */
export interface HttpReply {
  status: number
  text: string
}

/** What one request sends, besides its method and path. */
export interface HttpRequestOptions {
  headers?: Record<string, string>
  /** The body, sent as it is (set `content-type` in `headers`). */
  body?: string
  /**
   * Aborts the request (a long poll that is no longer wanted); it then rejects with the signal's
   * reason. Any number of requests may share one signal: it gets one listener however many there are.
   */
  signal?: AbortSignal
  /**
   * The request fails when its connection stays silent this long, ms (as `fetch` gave up on a
   * response whose headers took over 5 minutes). @defaultValue DEFAULT_HTTP_IDLE_MS
   */
  idleMs?: number
}

/** How long a request waits on a silent connection before it fails, ms (see {@link HttpRequestOptions.idleMs}). */
export const DEFAULT_HTTP_IDLE_MS = 300_000

const RETRYABLE_ON_REUSE = new Set(['ECONNRESET', 'EPIPE'])

/**
 * Requests to one daemon's HTTP API over `node:http` (or `node:https`) through a keep-alive agent
 * of its own: each request after the first reuses an open connection. Measured against the global
 * `fetch` on the 2-core development machine (a lone daemon, one no-op submitted and waited for at
 * a time, 100 each): 4.64 → 3.64 ms with `sync` durability, 4.43 → 3.39 ms with `os`. Idle
 * connections do not keep the process alive (Node unrefs a free socket). A request that finds its
 * reused connection closed by the server (it closes idle ones after a few seconds) before any
 * answer came is sent again once on a new connection: the server never read it.
 */
export class HttpTransport {
  private readonly agent: http.Agent
  private readonly lib: typeof http | typeof https

  /** @param base - the API's base URL (`http:` or `https:`). */
  constructor(private readonly base: URL) {
    const secure = base.protocol === 'https:'
    if (!secure && base.protocol !== 'http:') {
      throw new Error(`the daemon's API URL must be http: or https:, got ${base.protocol}`)
    }
    this.lib = secure ? https : http
    this.agent = new this.lib.Agent({ keepAlive: true })
  }

  /** Sends one request and resolves with the whole answer. @throws the connection's error, or the signal's reason. */
  async request(method: string, path: string, opts: HttpRequestOptions = {}): Promise<HttpReply> {
    try {
      return await this.once(method, path, opts)
    } catch (err) {
      const { code, reused } = err as { code?: string; reused?: boolean }
      if (reused !== true || code === undefined || !RETRYABLE_ON_REUSE.has(code)) throw err
      return this.once(method, path, opts)
    }
  }

  /** Closes the open connections; later requests open new ones. */
  close(): void {
    this.agent.destroy()
  }

  private once(method: string, path: string, opts: HttpRequestOptions): Promise<HttpReply> {
    const { signal } = opts
    signal?.throwIfAborted()
    return new Promise<HttpReply>((resolve, reject) => {
      const headers: Record<string, string | number> = { ...opts.headers }
      if (opts.body !== undefined) headers['content-length'] = Buffer.byteLength(opts.body)
      let answered = false
      let settled = false
      const fail = (err: unknown) => {
        if (settled) return
        settled = true
        unlisten?.()
        reject(signal?.aborted === true ? signal.reason : err)
      }
      const answer = (reply: HttpReply) => {
        if (settled) return
        settled = true
        unlisten?.()
        resolve(reply)
      }
      // not `signal` in the request's options: Node adds a listener to it per request (requests
      // sharing one signal warned of a possible EventTarget memory leak); one fans out to them all
      const unlisten = signal === undefined ? undefined : onAbort(signal, () => req.destroy(signal.reason))
      const req = this.lib.request(
        {
          protocol: this.base.protocol,
          hostname: this.base.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: this.base.port,
          path: `${this.base.pathname.replace(/\/+$/, '')}${path}`,
          method,
          headers,
          agent: this.agent,
        },
        (res) => {
          answered = true
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () =>
            answer({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          )
          res.on('error', fail)
          // cut off before its end (aborted, or the connection dropped): 'end' never comes
          res.on('close', () => fail(new Error(`the answer from ${this.base.host} was cut off`)))
        },
      )
      const idleMs = opts.idleMs ?? DEFAULT_HTTP_IDLE_MS
      req.setTimeout(idleMs, () => {
        const err = new Error(`no answer from ${this.base.host} for ${idleMs} ms`) as Error & { code: string }
        err.code = 'ETIMEDOUT'
        req.destroy(err)
      })
      req.on('error', (err: Error & { reused?: boolean }) => {
        // the server closed a kept connection as this request went out on it: safe to send again
        if (!answered && req.reusedSocket && signal?.aborted !== true) err.reused = true
        fail(err)
      })
      req.end(opts.body)
    })
  }
}
