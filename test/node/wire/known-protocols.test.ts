import { generateKeyPair } from '@libp2p/crypto/keys'
import type { IdentifyResult } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { createMeshLibp2p, type MeshLibp2p } from '../../../src/node/wire/libp2p-factory.ts'

const started: MeshLibp2p[] = []

afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()))
})

async function node(): Promise<MeshLibp2p> {
  const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), transport: 'memory' })
  started.push(libp2p)
  return libp2p
}

/** Connects `a` to `b` and resolves once `a` has identified `b`. */
async function identified(a: MeshLibp2p, b: MeshLibp2p): Promise<IdentifyResult> {
  const done = new Promise<IdentifyResult>((resolve) =>
    a.addEventListener('peer:identify', (evt) => resolve(evt.detail), { once: true }),
  )
  await a.dial(b.getMultiaddrs()[0])
  return done
}

describe('answerKnownProtocolMerges', () => {
  it('answers a merge of protocols a connected peer is known to serve from memory, and writes any other', async () => {
    const [a, b] = [await node(), await node()]
    const { protocols } = await identified(a, b)
    let updates = 0
    a.addEventListener('peer:update', () => updates++)
    const known = await a.peerStore.merge(b.peerId, { protocols: [protocols[0]] })
    expect(known.protocols).toEqual(expect.arrayContaining(protocols))
    expect(updates).toBe(0)
    await a.peerStore.merge(b.peerId, { protocols: ['/taskmesh/test/1.0.0'] })
    expect(updates).toBe(1)
    expect((await a.peerStore.get(b.peerId)).protocols).toContain('/taskmesh/test/1.0.0')
    // a merge of anything else goes to the store too
    await a.peerStore.merge(b.peerId, { protocols: [protocols[0]], tags: { t: { value: 1 } } })
    expect((await a.peerStore.get(b.peerId)).tags.get('t')?.value).toBe(1)
  })

  it('forgets a peer deleted from the store: a later merge writes its entry again', async () => {
    const [a, b] = [await node(), await node()]
    const { protocols } = await identified(a, b)
    await a.peerStore.delete(b.peerId)
    await a.peerStore.merge(b.peerId, { protocols: [protocols[0]] })
    expect((await a.peerStore.get(b.peerId)).protocols).toEqual([protocols[0]])
  })
})
