import { setMaxListeners } from 'node:events'
import type { Libp2p } from '@libp2p/interface'

/** How long a stopping node gives its connections to close their streams, ms (libp2p's own stop gives 500). */
export const CONNECTION_CLOSE_MS = 500

/**
 * Closes every connection of a stopping node, before `libp2p.stop()`. libp2p's stop closes each
 * connection under one `AbortSignal.timeout(500)` that every stream of the connection listens to,
 * without raising its listener limit: a connection with more than ten streams open prints a
 * `MaxListenersExceededWarning`. Here the shared deadline allows them all; a connection that does
 * not close in time is aborted, as libp2p would.
 */
export async function closeConnections(libp2p: Pick<Libp2p, 'getConnections'>): Promise<void> {
  const signal = AbortSignal.timeout(CONNECTION_CLOSE_MS)
  setMaxListeners(Number.POSITIVE_INFINITY, signal)
  await Promise.all(
    libp2p.getConnections().map((c) => c.close({ signal }).catch((err: Error) => c.abort(err))),
  )
}
