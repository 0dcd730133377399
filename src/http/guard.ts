import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/** Random bytes of an API token (256 bits), written as base64url. */
const TOKEN_BYTES = 32
/** Host names that always reach a local API (loopback only). */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])
/** Bind hosts that stand for every interface: they name no host a request could use. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '[::]', '::'])

/** A request the guard refuses: `status` and `code` for the JSON error, `field` names the header. */
export class ApiRefusal extends Error {
  override readonly name = 'ApiRefusal'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string,
  ) {
    super(message)
  }
}

/** A fresh API token: 32 random bytes in base64url. */
export function createApiToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url')
}

/** Where the API listens: what its Host header must name. */
export interface ApiAddress {
  /** The port it listens on. */
  port: number
  /** The host it is bound to (`127.0.0.1` by default; an operator may bind another). */
  bindHost: string
}

/**
 * True when `host` (a Host header, or an Origin's host) names this API: a loopback name
 * (`127.0.0.1`, `localhost`, `[::1]`) or the host the API is bound to, with the API's port (no port
 * stands for 80). Any other name is a DNS-rebinding page's, whose browser connected to this address
 * under a name it controls. This is the one place that decides which names are allowed.
 */
export function allowedHost(host: string | undefined, api: ApiAddress): boolean {
  if (host === undefined || host === '') return false
  let url: URL
  try {
    url = new URL(`http://${host}`)
  } catch {
    return false
  }
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(host)) return false // a name and a port, nothing else
  const port = url.port === '' ? 80 : Number(url.port)
  if (port !== api.port) return false
  const bound =
    api.bindHost.includes(':') && !api.bindHost.startsWith('[') ? `[${api.bindHost}]` : api.bindHost
  return LOOPBACK_HOSTS.has(url.hostname) || (!WILDCARD_HOSTS.has(bound) && url.hostname === bound)
}

/**
 * The cookie older versions kept a browser's token in, one per port. Cookies do not tell ports
 * apart: the browser sent it to every other service on the same host, so the API no longer sets
 * or accepts it, and tells a browser that still has one to drop it (see {@link staleTokenCookies}).
 */
export function tokenCookieName(port: number): string {
  return `taskmesh-token-${port}`
}

/** Names of the token cookies of older versions, whatever their port. */
const TOKEN_COOKIE = /^taskmesh-token-\d{1,5}$/

/**
 * `Set-Cookie` values that remove every token cookie of an older version that `req` carries (of
 * this API's port or another's), plus this port's when `always`: each `<name>=; Max-Age=0; Path=/`.
 */
export function staleTokenCookies(req: IncomingMessage, port: number, always = false): string[] {
  const names = new Set<string>(always ? [tokenCookieName(port)] : [])
  for (const pair of (req.headers.cookie ?? '').split(';')) {
    const name = pair.split('=')[0].trim()
    if (TOKEN_COOKIE.test(name)) names.add(name)
  }
  return [...names].map((n) => `${n}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict`)
}

/**
 * Refuses a request that a web page could have made, in this order: a Host that is not this API's
 * (403 `ERR_HOST_NOT_ALLOWED`: DNS rebinding), then a cross-site request — an `Origin` other than
 * this API's, or a `Sec-Fetch-Site` other than `same-origin` / `none` (403 `ERR_CROSS_ORIGIN`).
 * @throws ApiRefusal saying what is wrong and naming the header.
 */
export function checkSite(req: IncomingMessage, api: ApiAddress): void {
  const host = req.headers.host
  if (!allowedHost(host, api)) {
    throw new ApiRefusal(
      403,
      'ERR_HOST_NOT_ALLOWED',
      `Host "${host ?? ''}" is not this API's: use http://127.0.0.1:${api.port} (or localhost, [::1])`,
      'host',
    )
  }
  const origin = req.headers.origin
  if (origin !== undefined && !sameOrigin(origin, api)) {
    throw new ApiRefusal(
      403,
      'ERR_CROSS_ORIGIN',
      `cross-site request from Origin "${origin}" refused`,
      'origin',
    )
  }
  const site = req.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new ApiRefusal(
      403,
      'ERR_CROSS_ORIGIN',
      `cross-site request (Sec-Fetch-Site: ${site}) refused`,
      'origin',
    )
  }
}

/**
 * Refuses a request without the API's token (401 `ERR_UNAUTHORIZED`): it must send
 * `Authorization: Bearer <token>` (a `GET` may give `?token=<token>` instead: `HttpApi` checks
 * that before). A cookie is no token.
 * @throws ApiRefusal naming the header.
 */
export function checkToken(req: IncomingMessage, token: string): void {
  const auth = req.headers.authorization
  if (!isToken(auth === undefined ? undefined : /^Bearer (\S+)$/i.exec(auth)?.[1], token)) {
    throw new ApiRefusal(
      401,
      'ERR_UNAUTHORIZED',
      'missing or wrong API token: send "Authorization: Bearer <token>" (the token is in <data-dir>/api.json)',
      'authorization',
    )
  }
}

/**
 * Refuses a request body that is not declared `application/json` (415
 * `ERR_UNSUPPORTED_MEDIA_TYPE`): a form or `text/plain` body is what a cross-site page can send
 * without asking the browser first.
 * @throws ApiRefusal naming the header.
 */
export function checkJsonBody(req: IncomingMessage): void {
  const type = req.headers['content-type']
  const media = type?.split(';')[0].trim().toLowerCase()
  if (media !== 'application/json') {
    throw new ApiRefusal(
      415,
      'ERR_UNSUPPORTED_MEDIA_TYPE',
      `the body must be JSON sent as "Content-Type: application/json", got ${type === undefined ? 'no Content-Type' : `"${type}"`}`,
      'content-type',
    )
  }
}

/** True when `given` is the token (compared in constant time). */
export function isToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

function sameOrigin(origin: string, api: ApiAddress): boolean {
  if (!origin.startsWith('http://')) return false
  return allowedHost(origin.slice('http://'.length), api)
}
