import type { Logger } from '../../log/logger.ts'
import { PerKeyThrottle } from '../../log/per-key-throttle.ts'
import { monotonicNow } from '../../util/clock.ts'
import type { StreamMetrics } from '../accounting/stream-metrics.ts'

/** One warning a minute at most for each kind of failed inbound connection. */
export const INBOUND_FAILURE_WINDOW_MS = 60_000

/** Refusals the node made itself (a denied peer, the connection limit): nothing to warn of. */
const REFUSED_HERE = new Set(['ConnectionDeniedError', 'ConnectionInterceptedError'])

/**
 * Warns of inbound connections that failed before their upgrade ended — for a private mesh, most
 * likely a peer with another swarm key, whose dial this node's side of the handshake could not
 * read (`EncryptionFailedError`): the dialler is told its dial failed, and without this the node
 * it dialled said nothing. One line a minute for each error name, with how many were held back.
 */
export function warnInboundFailures(metrics: StreamMetrics, log: Logger, privateMesh: boolean): void {
  const throttle = new PerKeyThrottle(INBOUND_FAILURE_WINDOW_MS)
  const hint = privateMesh
    ? 'a peer with another swarm key, or something that is not a taskmesh peer, dialled this node'
    : 'something that is not a taskmesh peer of an open mesh (or one with a swarm key) dialled this node'
  metrics.onInboundFailure = (name) => {
    if (REFUSED_HERE.has(name)) return
    const passed = throttle.pass(name, monotonicNow())
    if (passed === undefined) return
    log.warn({ error: name, heldBack: passed.held, hint }, 'inbound connection failed its handshake')
  }
}
