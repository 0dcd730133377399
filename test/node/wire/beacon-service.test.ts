import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import { BeaconService } from '../../../src/node/wire/beacon-service.ts'
import { createMeshLibp2p, type MeshLibp2p } from '../../../src/node/wire/libp2p-factory.ts'
import type { Beacon } from '../../../src/protocol/messages/beacon-messages.ts'

const started: Array<{ libp2p: MeshLibp2p; service?: BeaconService }> = []

afterEach(async () => {
  for (const { libp2p, service } of started.splice(0)) {
    await service?.stop()
    await libp2p.stop()
  }
})

function beacon(seq: number): Beacon {
  return {
    v: 1,
    seq,
    slots: 1,
    running: 0,
    queued: 0,
    queuedWorkMs: 0,
    speed: 1,
    types: ['sleep'],
    labels: [],
    memoryMb: 0,
    expectedWaitMs: 0,
    sentAt: Date.now(),
  }
}

async function node(): Promise<MeshLibp2p> {
  const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), transport: 'memory' })
  started.push({ libp2p })
  return libp2p
}

describe('BeaconService', () => {
  it('a connected peer whose protocols are known only in part is identified again and hears the beacons', async () => {
    const [a, b] = [await node(), await node()]
    const heardAtA: string[] = []
    const serviceA = new BeaconService({ libp2p: a, onBeacon: (from) => heardAtA.push(from), idleMs: 30_000 })
    await serviceA.start()
    started.push({ libp2p: a, service: serviceA })
    const identified = new Promise((resolve) => b.addEventListener('peer:identify', resolve, { once: true }))
    await b.dial(a.getMultiaddrs()[0])
    await identified
    // what an identify cut short on a busy event loop leaves: one protocol another service recorded
    await b.peerStore.patch(a.peerId, { protocols: ['/some/other/1.0.0'] })
    const serviceB = new BeaconService({ libp2p: b, onBeacon: () => undefined, idleMs: 30_000 })
    await serviceB.start()
    started.push({ libp2p: b, service: serviceB })
    expect(serviceB.neighbourCount).toBe(0)
    // B beacons as a node does, each beacon looking again at connected peers that are no neighbours
    let seq = 1
    const deadline = Date.now() + 12_000
    while (heardAtA.length === 0 && Date.now() < deadline) {
      serviceB.publish(beacon(seq++))
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    expect(heardAtA[0]).toBe(b.peerId.toString())
    expect(serviceB.neighbourCount).toBe(1)
  }, 15_000)
})
