import { mkdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { PRIVATE_DIR_MODE } from './private-files.ts'
import { writeFileOnce } from './write-once.ts'

/** File name of the node's private key inside its data dir. */
export const PEER_KEY_FILE = 'peer.key'

/**
 * Loads the node's Ed25519 key from `<dataDir>/peer.key`, creating it on first start, so a
 * restarted daemon keeps its peer id. The file is written atomically (see {@link loadOrCreateKeyFile}).
 */
export async function loadOrCreatePeerKey(dataDir: string): Promise<PrivateKey> {
  await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE })
  return loadOrCreateKeyFile(join(dataDir, PEER_KEY_FILE))
}

/**
 * Loads an Ed25519 key (libp2p protobuf form) from `path`, creating it (readable by its owner only,
 * written atomically) when the file does not exist. A light client uses one to keep its peer id,
 * e.g. to be on a node's submitter allow-list. Two that create it at once (two nodes started on
 * one new data dir) agree: the one that finds it written meanwhile reads the other's key (see
 * {@link writeFileOnce}).
 * @throws Error naming the file when it exists but cannot be read as a key.
 */
export async function loadOrCreateKeyFile(path: string): Promise<PrivateKey> {
  let bytes: Uint8Array | undefined
  try {
    bytes = await readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`cannot read peer key ${path}: ${(err as Error).message}`)
    }
  }
  if (bytes !== undefined) {
    try {
      return privateKeyFromProtobuf(bytes)
    } catch {
      throw new Error(`${path} is not a peer key (a libp2p private key file, as taskmesh identity makes)`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  let created: boolean
  try {
    created = await writeFileOnce(path, privateKeyToProtobuf(key))
  } catch (err) {
    const { code } = err as NodeJS.ErrnoException
    const why = code === 'ENOENT' ? `its directory ${dirname(path)} does not exist` : (err as Error).message
    throw new Error(`cannot create peer key ${path}: ${why}`)
  }
  return created ? key : loadOrCreateKeyFile(path) // another start made it first: its key
}
