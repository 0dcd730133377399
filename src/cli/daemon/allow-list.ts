import { readFile } from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'

/**
 * The daemon's submitter allow-list: the peer ids of `--allow-submitter` flags and of an
 * `--allow-submitters` file (one per line; blank lines and `#` comments are skipped), or
 * `undefined` when neither was given (every peer may submit).
 * @throws Error naming the flag, or the file and line, of an entry that is not a peer id.
 */
export async function readAllowList(
  flags: string[],
  file: string | undefined,
): Promise<string[] | undefined> {
  if (flags.length === 0 && file === undefined) return undefined
  const peers = flags.map((p) => checkPeer(p, `--allow-submitter "${p}"`))
  if (file !== undefined) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      throw new Error(`--allow-submitters: cannot read ${file}: ${(err as Error).message}`)
    }
    text.split(/\r?\n/).forEach((line, i) => {
      const entry = line.replace(/#.*/, '').trim()
      if (entry !== '') peers.push(checkPeer(entry, `--allow-submitters ${file}:${i + 1}`))
    })
  }
  return [...new Set(peers)]
}

function checkPeer(value: string, where: string): string {
  try {
    return peerIdFromString(value).toString()
  } catch {
    throw new Error(`${where}: "${value}" is not a peer id (expected e.g. 12D3KooW…)`)
  }
}
