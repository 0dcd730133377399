import { Socket } from 'node:net'
import type { ConnectionProtector, MessageStream } from '@libp2p/interface'

/**
 * One socket write per connection per turn. Every frame libp2p sends — each Noise frame of each
 * Yamux frame of each stream — reaches the TCP socket as its own `write`, one system call each:
 * the 8 × 4 simulation made 7.3 writes per task, 69 % of them to a socket already written in the
 * same turn (after the same event, before the next tick). A socket written to is corked at its
 * first write and uncorked on the next tick: the turn's frames leave together in one `writev`, and
 * the peer wakes once for them. Nothing waits for a later turn, so no message is delayed.
 *
 * The raw connection is reached the one way libp2p offers, as a connection protector: libp2p hands
 * every new connection to it before Noise, and the private network's protector (when a swarm key
 * is set) runs after this one, on the same connection.
 */

/** What this module needs of `@libp2p/tcp`'s raw connection: its socket and its send method. */
interface SocketConnection {
  socket?: unknown
  sendData?: (data: never) => unknown
}

/**
 * Makes a raw TCP connection cork its socket at its first write of a turn and uncork it on the next
 * tick. Same bytes in the same order; `write`'s back-pressure answer is the socket's as before.
 * @returns false, leaving the connection as it was, when it is not a TCP socket's (memory
 *   transport, another transport's connection).
 */
export function coalesceWrites(connection: MessageStream): boolean {
  const raw = connection as unknown as SocketConnection
  const { socket, sendData } = raw
  if (!(socket instanceof Socket) || typeof sendData !== 'function') return false
  const send = sendData.bind(connection)
  let corked = false
  const uncork = (): void => {
    corked = false
    socket.uncork()
  }
  raw.sendData = ((data: never) => {
    if (!corked && !socket.destroyed) {
      corked = true
      socket.cork()
      process.nextTick(uncork)
    }
    return send(data)
  }) as SocketConnection['sendData']
  return true
}

/**
 * A connection protector that coalesces each TCP connection's writes ({@link coalesceWrites}), then
 * hands the connection to `inner` (the private network's protector) when there is one.
 */
export function coalescingProtector(inner?: () => ConnectionProtector): () => ConnectionProtector {
  return () => {
    const next = inner?.()
    return {
      async protect(connection, options) {
        coalesceWrites(connection)
        return next === undefined ? connection : next.protect(connection, options)
      },
    }
  }
}
