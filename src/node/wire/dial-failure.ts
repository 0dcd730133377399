/** Dial failures where no connection was made (refused, no route, no such host). */
const NOT_CONNECTED = /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EADDRNOTAVAIL|EAI_AGAIN/

/**
 * True when a dial failed once connected — in the handshake, where a swarm key mismatch garbles
 * the bytes and the failure takes many forms (a reset, a length or newline that makes no sense, no
 * answer): the failures a node or a client hints at another swarm key for.
 */
export function failedInHandshake(error: string): boolean {
  return !NOT_CONNECTED.test(error)
}
