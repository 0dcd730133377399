import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import { BeaconService } from '../../../src/node/wire/beacon-service.ts'
import { createMeshLibp2p, type MeshLibp2p } from '../../../src/node/wire/libp2p-factory.ts'
import { BEACON_PROTOCOL, MAX_BEACON_BYTES } from '../../../src/protocol/constants.ts'
import { type Beacon, beaconSchema10 } from '../../../src/protocol/messages/beacon-messages.ts'
import { servePushStream } from '../../../src/protocol/rpc/push-stream.ts'

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

  it('a peer of protocol 1.1 hears the queued types; one serving only 1.0 hears the beacons without them', async () => {
    const [a, current, older] = [await node(), await node(), await node()]
    const serviceA = new BeaconService({ libp2p: a, onBeacon: () => undefined, idleMs: 30_000 })
    await serviceA.start()
    started.push({ libp2p: a, service: serviceA })
    let heardNew: (b: Beacon) => void = () => undefined
    const atNew = new Promise<Beacon>((resolve) => {
      heardNew = resolve
    })
    const serviceNew = new BeaconService({ libp2p: current, onBeacon: (_, b) => heardNew(b), idleMs: 30_000 })
    await serviceNew.start()
    started.push({ libp2p: current, service: serviceNew })
    // a node of an earlier version: the 1.0 protocol only, whose schema refuses unknown fields
    const refusedOld: Error[] = []
    const atOld = new Promise<Beacon>((resolve) => {
      void older.handle(BEACON_PROTOCOL, (stream) =>
        servePushStream(stream, beaconSchema10, resolve, {
          maxBytes: MAX_BEACON_BYTES,
          what: 'beacon',
          onError: (err) => refusedOld.push(err),
        }),
      )
    })
    const { v: _v, seq: _seq, sentAt: _sentAt, ...load } = beacon(0)
    // the latest beacon goes to every neighbour as soon as it is one
    serviceA.publish({
      ...beacon(1),
      queued: 3,
      queuedTypes: ['render'],
      hot: [{ peerId: 'somewhere', addrs: [], ageMs: 0, ...load, queued: 2, queuedTypes: ['sleep'] }],
    })
    await current.dial(a.getMultiaddrs()[0])
    await older.dial(a.getMultiaddrs()[0])
    const [atCurrent, atOlder] = await Promise.all([atNew, atOld])
    expect(atCurrent).toMatchObject({ queuedTypes: ['render'], hot: [{ queuedTypes: ['sleep'] }] })
    expect(atOlder).toMatchObject({ queued: 3, hot: [{ queued: 2 }] })
    expect(atOlder.queuedTypes).toBeUndefined()
    expect(atOlder.hot?.[0].queuedTypes).toBeUndefined()
    expect(refusedOld).toEqual([])
  }, 15_000)
})
