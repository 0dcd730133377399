/**
 * A node could not listen on an address it was given: one line per address with its reason
 * (libp2p's `UnsupportedListenAddressesError` lists each with its error's whole stack).
 */
export class ListenError extends Error {
  override readonly name = 'ListenError'
}

/**
 * libp2p's failure to listen as a {@link ListenError}: `cannot listen on <address>: <reason>`
 * for each address; `undefined` for any other error.
 */
export function listenFailure(err: unknown): ListenError | undefined {
  if ((err as { name?: unknown })?.name !== 'UnsupportedListenAddressesError') return undefined
  const lines = String((err as Error).message).split('\n')
  const failures = lines.flatMap((line) => {
    const match = /^ {2}(\/\S+): (?:Error: )?(.*)$/.exec(line)
    return match === null ? [] : [`${match[1]}: ${reasonOf(match[2])}`]
  })
  if (failures.length === 0) return undefined
  return new ListenError(`cannot listen on ${failures.join('; ')}`, { cause: err })
}

/** `listen EADDRINUSE: address already in use 127.0.0.1:4010` → `address already in use (EADDRINUSE)`. */
function reasonOf(message: string): string {
  const match = /^listen (E[A-Z]+): ([^0-9[]+?)(?: [\d.:[\]a-f]+)?$/.exec(message.trim())
  return match === null ? message.trim() : `${match[2]} (${match[1]})`
}
