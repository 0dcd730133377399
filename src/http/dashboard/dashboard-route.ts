import { readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

/** The page's files: in `static/` beside this module (the build copies them), uPlot from its package. */
const STATIC = new URL('./static/', import.meta.url)
const require = createRequire(import.meta.url)

/** Path → file and media type of everything the dashboard is made of. */
const FILES: Record<string, { file: () => string; type: string }> = {
  '/': { file: () => fileURLToPath(new URL('index.html', STATIC)), type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': {
    file: () => fileURLToPath(new URL('app.js', STATIC)),
    type: 'text/javascript; charset=utf-8',
  },
  '/dashboard/style.css': {
    file: () => fileURLToPath(new URL('style.css', STATIC)),
    type: 'text/css; charset=utf-8',
  },
  '/dashboard/uPlot.iife.min.js': {
    file: () => require.resolve('uplot/dist/uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  '/dashboard/uPlot.min.css': {
    file: () => require.resolve('uplot/dist/uPlot.min.css'),
    type: 'text/css; charset=utf-8',
  },
}

/** The page loads only its own files, and no other site may frame it. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
}

/**
 * The dashboard: a static page (HTML, one script, uPlot) at `/` that reads the API it is served by
 * (`/status`, `/mesh`, `/tasks`, `/events`, `/tasks/<id>/story`) with the token the one-time link
 * `/?token=<token>` hands it in the fragment (`/#token=<token>`): the page keeps it in
 * `sessionStorage` and sends `Authorization: Bearer <token>` (the event stream: `?token=`). Its
 * files hold no data, so they are served to any request that passed the Host and Origin checks,
 * token or not: without one the page asks for it.
 */
export class DashboardRoute {
  private readonly cache = new Map<string, Buffer>()

  /** Serves `req` when it asks for one of the dashboard's files; false otherwise. */
  async serve(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const entry = Object.hasOwn(FILES, url.pathname) ? FILES[url.pathname] : undefined
    if (entry === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return false
    let body = this.cache.get(url.pathname)
    if (body === undefined) {
      body = await readFile(entry.file())
      this.cache.set(url.pathname, body)
    }
    res.writeHead(200, { 'content-type': entry.type, 'content-length': body.length, ...SECURITY_HEADERS })
    res.end(req.method === 'HEAD' ? undefined : body)
    return true
  }
}
