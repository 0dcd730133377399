import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it } from 'vitest'
import { peerKadId, successorOf, taskKadId, xorDistance } from '../../../src/node/recovery/successor.ts'
import { makeTask } from '../../protocol/fixtures.ts'

const peers: string[] = []
beforeAll(async () => {
  for (let i = 0; i < 4; i++) peers.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
})

describe('successorOf', () => {
  it('picks the candidate closest to the task by XOR distance, whatever the order of candidates', () => {
    for (let n = 0; n < 20; n++) {
      const id = makeTask(n).id
      const best = successorOf(id, peers)
      expect(successorOf(id, [...peers].reverse())).toBe(best)
      const distance = (p: string) => Buffer.from(xorDistance(peerKadId(p), taskKadId(id))).toString('hex')
      const sorted = [...peers].sort((a, b) => distance(a).localeCompare(distance(b)))
      expect(best).toBe(sorted[0])
    }
    expect(successorOf(makeTask(1).id, [])).toBeUndefined()
    expect(successorOf(makeTask(1).id, ['not-a-peer-id', peers[0]])).toBe(peers[0])
  })

  it('spreads the tasks of a dead owner over the live peers', () => {
    const chosen = new Set(Array.from({ length: 50 }, (_, n) => successorOf(makeTask(n).id, peers)))
    expect(chosen.size).toBeGreaterThan(1)
  })
})
