import { peerIdFromString } from '@libp2p/peer-id'
import { compare } from 'uint8arrays'
import { sha256 } from '../../util/sha256.ts'

/**
 * The deterministic successor of a task whose owner died: among the candidates (the live peers a
 * node knows of, itself included), the one closest to the task by Kademlia XOR distance —
 * SHA-256 of the task id's UTF-8 bytes against SHA-256 of each peer id's multihash bytes (kad-dht's
 * own peer ids). Every node with the same view of live peers picks the same successor.
 */

const peerIds = new Map<string, Uint8Array>()
const PEER_CACHE = 10_000

/** The Kademlia id of a task: SHA-256 of its id's UTF-8 bytes. */
export function taskKadId(taskId: string): Uint8Array {
  return sha256(Buffer.from(taskId, 'utf8'))
}

/** The Kademlia id of a peer: SHA-256 of its multihash bytes (as kad-dht computes it). */
export function peerKadId(peerId: string): Uint8Array {
  let id = peerIds.get(peerId)
  if (id === undefined) {
    id = sha256(peerIdFromString(peerId).toMultihash().bytes)
    if (peerIds.size >= PEER_CACHE) peerIds.clear()
    peerIds.set(peerId, id)
  }
  return id
}

/** XOR distance of two 32-byte ids (compare distances with `compare`). */
export function xorDistance(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength)
  for (let i = 0; i < out.byteLength; i++) out[i] = a[i] ^ b[i]
  return out
}

/**
 * The candidate closest to the task by XOR distance; undefined when there are none. Candidates that
 * are not valid peer ids are ignored.
 */
export function successorOf(taskId: string, candidates: Iterable<string>): string | undefined {
  const target = taskKadId(taskId)
  let best: string | undefined
  let bestDistance: Uint8Array | undefined
  for (const peer of candidates) {
    let id: Uint8Array
    try {
      id = peerKadId(peer)
    } catch {
      continue
    }
    const distance = xorDistance(id, target)
    const order = bestDistance === undefined ? -1 : compare(distance, bestDistance)
    if (order < 0 || (order === 0 && best !== undefined && peer < best)) {
      best = peer
      bestDistance = distance
    }
  }
  return best
}
