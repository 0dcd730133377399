import { readFile } from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from '../../log/logger.ts'
import { describeValue } from '../../util/describe-value.ts'
import { say } from './console-lines.ts'

/**
 * The daemon's submitter allow-list: the peer ids of `--allow-submitter` flags and of an
 * `--allow-submitters` file, or `undefined` when neither was given (every peer may submit).
 * @throws Error naming the flag, or the file and line, of an entry that is not a peer id.
 */
export async function readAllowList(
  flags: string[],
  file: string | undefined,
): Promise<string[] | undefined> {
  if (flags.length === 0 && file === undefined) return undefined
  const peers = flags.map((p) => checkPeer(p, `--allow-submitter "${p}"`))
  if (file !== undefined) peers.push(...(await readPeerFile(file, '--allow-submitters')))
  return [...new Set(peers)]
}

/**
 * The peer ids a list file names (the `--allow-submitters` and `--deny-peers` files): one a line,
 * blank lines and `#` comments skipped, repeats dropped.
 * @throws Error naming the flag, and the file and line of an entry that is not a peer id
 */
export async function readPeerFile(file: string, flag: string): Promise<string[]> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new Error(`${flag}: cannot read ${file}: ${(err as Error).message}`)
  }
  const peers: string[] = []
  text.split(/\r?\n/).forEach((line, i) => {
    const entry = line.replace(/#.*/, '').trim()
    if (entry !== '') peers.push(checkPeer(entry, `${flag} ${file}:${i + 1}`))
  })
  return [...new Set(peers)]
}

/** What {@link reloadDenyListOnHangup} needs of the node. */
export interface DenyingNode {
  denyPeers(peers: readonly string[]): number
}

/**
 * Reads the `--deny-peers` file again at every SIGHUP and gives the node the new list (connections
 * to peers now denied are cut). A file that cannot be read, or names something that is not a peer
 * id, is reported on stderr and in the log, and the node keeps the list it had. Reloads run one at
 * a time, in order. Returns what removes the handler.
 */
export function reloadDenyListOnHangup(node: DenyingNode, file: string, log: Logger): () => void {
  let chain = Promise.resolve()
  const reload = async () => {
    try {
      const peers = await readPeerFile(file, '--deny-peers')
      const cut = node.denyPeers(peers)
      say(`deny list reloaded: ${peers.length} peers denied, ${cut} connections cut`)
      log.info({ file, denied: peers.length, cut }, 'deny list reloaded')
    } catch (err) {
      const message = (err as Error).message
      console.error(`taskmesh: deny list not reloaded, the old one stays: ${message}`)
      log.error({ file, error: message }, 'deny list not reloaded, the old one stays')
    }
  }
  const onHangup = () => {
    chain = chain.then(reload)
  }
  process.on('SIGHUP', onHangup)
  return () => process.off('SIGHUP', onHangup)
}

function checkPeer(value: string, where: string): string {
  try {
    return peerIdFromString(value).toString()
  } catch {
    // quoted as JSON, cut: a binary file's bytes reach no terminal as they are
    throw new Error(`${where}: ${describeValue(value)} is not a peer id (expected e.g. 12D3KooW…)`)
  }
}
