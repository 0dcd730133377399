import type { IncomingMessage, ServerResponse } from 'node:http'
import { send } from './api-io.ts'
import { ApiRefusal, isToken, staleTokenCookies } from './guard.ts'

/**
 * A `GET`'s `?token=<token>` (how an `EventSource` authenticates: it cannot send headers, and how
 * the one-time link carries the token): true when given, and then taken out of `url`, so the
 * routes never see it. Other methods must send `Authorization: Bearer <token>`.
 * @throws ApiRefusal 401 `ERR_UNAUTHORIZED`, field `token`, when it is wrong or given twice.
 */
export function tokenInQuery(req: IncomingMessage, url: URL, token: string): boolean {
  const given = url.searchParams.getAll('token')
  if (req.method !== 'GET' || given.length === 0) return false
  if (given.length > 1 || !isToken(given[0], token)) {
    throw new ApiRefusal(401, 'ERR_UNAUTHORIZED', 'the token in the URL is wrong', 'token')
  }
  url.searchParams.delete('token')
  return true
}

/**
 * Answers the dashboard's one-time link `/?token=<token>` (as Jupyter's; `url` without the token
 * by now): `303` to the same page with the token in the fragment (`/#token=<token>`), which a
 * browser never sends to a server; the page keeps it in `sessionStorage` (this tab and this origin
 * only) and takes it out of the address bar. No cookie holds it — a cookie goes to every port of
 * the host — and the token cookie an older version set (this port's, and any other the browser
 * sent) is removed (`Max-Age=0`).
 */
export function logIn(
  url: URL,
  port: number,
  token: string,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const page = `${url.pathname}${url.search}`
  res.setHeader('set-cookie', staleTokenCookies(req, port, true))
  send(
    res,
    303,
    { location: page },
    {
      location: `${page}#token=${encodeURIComponent(token)}`,
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    },
  )
}
