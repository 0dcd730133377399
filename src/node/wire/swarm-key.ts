import { readFile } from 'node:fs/promises'
import { generateKey } from '@libp2p/pnet'
import { writeFileOnce } from './write-once.ts'

/** First line of a libp2p v1 swarm key file. */
export const SWARM_KEY_TAG = '/key/swarm/psk/1.0.0/'
/** Second line: the encoding of the key. */
export const SWARM_KEY_CODEC = '/base16/'

/** Length of a swarm key file as `generateKey` writes it: the two header lines and 64 hex digits. */
const SWARM_KEY_FILE_BYTES = SWARM_KEY_TAG.length + SWARM_KEY_CODEC.length + 2 + 64

/** A swarm key file that cannot be used; the message says what is wrong. */
export class InvalidSwarmKeyError extends Error {
  override readonly name = 'InvalidSwarmKeyError'
  readonly code = 'ERR_INVALID_SWARM_KEY'
}

/**
 * A new libp2p pre-shared key file (`@libp2p/pnet`'s `generateKey`): `/key/swarm/psk/1.0.0/`,
 * `/base16/`, then 32 random bytes as 64 hexadecimal digits, one per line.
 */
export function generateSwarmKey(): Uint8Array {
  const bytes = new Uint8Array(SWARM_KEY_FILE_BYTES)
  generateKey(bytes)
  return bytes
}

/**
 * Checks the contents of a swarm key file strictly (pnet itself only checks the key's length) and
 * returns them unchanged for `preSharedKey({ psk })`. A final newline is allowed.
 * @throws InvalidSwarmKeyError saying which line is wrong.
 */
export function parseSwarmKey(bytes: Uint8Array): Uint8Array {
  const lines = new TextDecoder().decode(bytes).split(/\r?\n/)
  if (lines.at(-1) === '') lines.pop()
  if (lines[0] !== SWARM_KEY_TAG) {
    throw new InvalidSwarmKeyError(`line 1 must be "${SWARM_KEY_TAG}" (a libp2p v1 swarm key)`)
  }
  if (lines[1] !== SWARM_KEY_CODEC) throw new InvalidSwarmKeyError(`line 2 must be "${SWARM_KEY_CODEC}"`)
  if (lines.length !== 3 || !/^[0-9a-fA-F]{64}$/.test(lines[2])) {
    throw new InvalidSwarmKeyError(
      'line 3 must be the key: 64 hexadecimal digits (32 bytes), and nothing after it',
    )
  }
  return bytes
}

/** Reads and checks a swarm key file. @throws Error naming the file and what is wrong with it. */
export async function readSwarmKeyFile(file: string): Promise<Uint8Array> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(file)
  } catch (err) {
    throw new Error(`cannot read swarm key ${file}: ${(err as Error).message}`)
  }
  try {
    return parseSwarmKey(bytes)
  } catch (err) {
    throw new Error(`swarm key ${file}: ${(err as Error).message}`)
  }
}

/**
 * Makes sure `file` holds a swarm key: writes a new one (readable by its owner only) when the file
 * does not exist, else checks the one there and keeps it.
 * @returns whether a key was created.
 * @throws Error when the existing file is not a valid swarm key (it is left as it is).
 */
export async function ensureSwarmKeyFile(file: string): Promise<{ created: boolean }> {
  let created: boolean
  try {
    // written whole before it appears: one that finds it (made at the same time) never reads it half written
    created = await writeFileOnce(file, generateSwarmKey())
  } catch (err) {
    throw new Error(`cannot write swarm key ${file}: ${(err as Error).message}`)
  }
  if (created) return { created: true }
  await readSwarmKeyFile(file)
  return { created: false }
}
