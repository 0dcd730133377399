import { createServer, type RequestListener, type Server } from 'node:http'

/**
 * How long a connection may take to send a request's complete headers, in ms. A connection that
 * sends nothing at all (Node's own `headersTimeout` does not see one: no request has begun) is
 * destroyed after this long silent, and so is a kept-alive one whose next request stops coming;
 * one that trickles its headers is answered `408` and closed once this long has passed since its
 * request began (checked every {@link HTTP_DEADLINE_CHECK_MS}). Once a request's headers are in,
 * the connection may stay silent as long as its answer takes: a long poll (`?wait=`, up to
 * `MAX_HTTP_WAIT_MS`) and an event stream (`GET /events`) are not cut.
 */
export const HTTP_HEADERS_TIMEOUT_MS = 10_000

/**
 * How long a kept-alive connection may stay idle after an answer before it is closed, in ms (Node
 * gives it one more second, so a client that reuses it at the last moment is not cut mid-request).
 */
export const HTTP_KEEP_ALIVE_TIMEOUT_MS = 5_000

/**
 * How long a request may take to arrive whole, headers and body (`POST /tasks` takes up to
 * `MAX_HTTP_BODY_BYTES`), in ms; a slower one is answered `408` and closed. The time its answer
 * takes does not count.
 */
export const HTTP_REQUEST_TIMEOUT_MS = 60_000

/**
 * Most connections the API keeps open at once. A connection beyond them is closed as it comes, with
 * no answer (the API and the daemon go on), so idle sockets cannot take every file descriptor of
 * the daemon (its p2p port needs some too).
 */
export const MAX_HTTP_CONNECTIONS = 1_000

/** How often the deadlines of requests whose headers or body are still coming are checked, in ms. */
export const HTTP_DEADLINE_CHECK_MS = 1_000

/** How long connections may take and how many may be open (defaults: the constants above). */
export interface HttpConnectionLimits {
  /** Silence allowed before a request's headers are in, in ms. @defaultValue HTTP_HEADERS_TIMEOUT_MS */
  headersTimeoutMs?: number
  /** Idle time of a kept-alive connection between requests, in ms. @defaultValue HTTP_KEEP_ALIVE_TIMEOUT_MS */
  keepAliveTimeoutMs?: number
  /** Time for a request to arrive whole, in ms (at least `headersTimeoutMs`). @defaultValue HTTP_REQUEST_TIMEOUT_MS */
  requestTimeoutMs?: number
  /** Connections open at once. @defaultValue MAX_HTTP_CONNECTIONS */
  maxConnections?: number
}

/**
 * An HTTP server that serves `onRequest` within `limits`: a connection is given
 * `headersTimeoutMs` of silence before its request's headers are in (then none: the answer may
 * take minutes), requests must arrive whole within `requestTimeoutMs`, idle kept-alive connections
 * close after `keepAliveTimeoutMs`, and at most `maxConnections` are open at once.
 */
export function createLimitedServer(onRequest: RequestListener, limits: HttpConnectionLimits = {}): Server {
  const headersTimeout = limits.headersTimeoutMs ?? HTTP_HEADERS_TIMEOUT_MS
  const server = createServer(
    {
      headersTimeout,
      requestTimeout: Math.max(headersTimeout, limits.requestTimeoutMs ?? HTTP_REQUEST_TIMEOUT_MS),
      keepAliveTimeout: limits.keepAliveTimeoutMs ?? HTTP_KEEP_ALIVE_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(HTTP_DEADLINE_CHECK_MS, headersTimeout),
    },
    (req, res) => {
      // the headers are in: a long poll or an event stream may be silent for minutes from here
      req.socket.setTimeout(0)
      onRequest(req, res)
    },
  )
  // Node sets this idle timeout on every new connection, and again when a kept-alive one starts
  // its next request; nobody listens to the server's 'timeout', so Node destroys the socket
  server.timeout = headersTimeout
  server.maxConnections = limits.maxConnections ?? MAX_HTTP_CONNECTIONS
  return server
}
