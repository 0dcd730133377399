import { multiaddr } from '@multiformats/multiaddr'
import { InvalidArgumentError } from 'commander'

/**
 * A commander parser of a multiaddr flag: the value must parse as a multiaddr, and with `peerId`
 * name the peer (`/p2p/<id>`). Its errors name the flag and the value.
 */
export function multiaddrFlag(flag: string, opts: { peerId: boolean }): (value: string) => string {
  return (value) => {
    let components: Array<{ name: string }>
    try {
      components = multiaddr(value).getComponents()
    } catch (err) {
      throw new InvalidArgumentError(
        `${flag} "${value}" is not a multiaddr (${(err as Error).message}), e.g. /ip4/127.0.0.1/tcp/4010${opts.peerId ? '/p2p/12D3KooW…' : ''}`,
      )
    }
    if (opts.peerId && !components.some((c) => c.name === 'p2p')) {
      throw new InvalidArgumentError(
        `${flag} "${value}" has no /p2p/<peer id> part: use an address a daemon prints on its "listening" line`,
      )
    }
    return value
  }
}

/** {@link multiaddrFlag} for a repeatable flag: collects the values. */
export function multiaddrList(flag: string, opts: { peerId: boolean }) {
  const parse = multiaddrFlag(flag, opts)
  return (value: string, previous: string[]): string[] => [...previous, parse(value)]
}

/**
 * One line for libp2p's failure to listen (`UnsupportedListenAddressesError`, whose message lists
 * each address with its error's stack): `cannot listen on <address> (--listen): <reason>` per
 * address, or `undefined` for any other error.
 */
export function listenFailure(err: unknown): string | undefined {
  if ((err as { name?: unknown })?.name !== 'UnsupportedListenAddressesError') return undefined
  const lines = String((err as Error).message).split('\n')
  const failures = lines.flatMap((line) => {
    const match = /^ {2}(\/\S+): (?:Error: )?(.*)$/.exec(line)
    return match === null ? [] : [`${match[1]}: ${reasonOf(match[2])}`]
  })
  if (failures.length === 0) return undefined
  return `cannot listen on ${failures.join('; ')} (--listen)`
}

/** `listen EADDRINUSE: address already in use 127.0.0.1:4010` → `address already in use`. */
export function reasonOf(message: string): string {
  const match = /^listen (E[A-Z]+): ([^0-9[]+?)(?: [\d.:[\]a-f]+)?$/.exec(message.trim())
  return match === null ? message.trim() : `${match[2]} (${match[1]})`
}
