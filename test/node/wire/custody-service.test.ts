import { generateKeyPair } from '@libp2p/crypto/keys'
import { MemoryDatastore } from 'datastore-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CUSTODY_TIMEOUT_MS, CustodyService } from '../../../src/node/wire/custody-service.ts'
import { createMeshLibp2p, type MeshLibp2p } from '../../../src/node/wire/libp2p-factory.ts'
import { RpcAbortedError, RpcClosedError } from '../../../src/protocol/errors.ts'

describe('CustodyService', () => {
  let owner: MeshLibp2p
  let custodian: MeshLibp2p
  let client: CustodyService
  let server: CustodyService
  const heard: string[] = []

  beforeAll(async () => {
    const start = async () =>
      createMeshLibp2p({
        privateKey: await generateKeyPair('Ed25519'),
        datastore: new MemoryDatastore(),
        transport: 'memory',
      })
    ;[owner, custodian] = await Promise.all([start(), start()])
    client = new CustodyService(owner)
    server = new CustodyService(custodian)
    server.serveWith((from, frame) => {
      heard.push(`${from} ${frame.type}`)
      return { type: 'held', requestId: frame.requestId, held: 0 }
    })
    await Promise.all([client.start(), server.start()])
    await owner.dial(custodian.getMultiaddrs()[0])
  })

  afterAll(async () => {
    await Promise.all([client.stop(), server.stop()])
    await Promise.all([owner.stop(), custodian.stop()])
  })

  it('keeps many frames in flight at once without a listener-leak warning', async () => {
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.name)
    process.on('warning', onWarning)
    try {
      const peer = custodian.peerId.toString()
      // a node that meets a hundred peers at once greets each with a frame in flight
      const replies = await Promise.all(
        Array.from({ length: 24 }, () =>
          client.request(peer, { type: 'forget', requestId: crypto.randomUUID() }),
        ),
      )
      expect(replies.every((r) => r.type !== 'error')).toBe(true)
      expect(heard.filter((h) => h === `${owner.peerId} forget`)).toHaveLength(24)
      await new Promise((resolve) => setImmediate(resolve))
      expect(warnings).not.toContain('MaxListenersExceededWarning')
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('ends a request in flight as soon as the service stops, not at its deadline; refuses one after', async () => {
    const start = async () =>
      createMeshLibp2p({
        privateKey: await generateKeyPair('Ed25519'),
        datastore: new MemoryDatastore(),
        transport: 'memory',
      })
    const [a, b] = await Promise.all([start(), start()])
    const asking = new CustodyService(a)
    const silent = new CustodyService(b)
    let answer: () => void = () => undefined
    let heardIt: () => void = () => undefined
    const heardFrame = new Promise<void>((resolve) => {
      heardIt = resolve
    })
    // the custodian never answers until the test lets it
    silent.serveWith(async (_from, frame) => {
      heardIt()
      await new Promise<void>((resolve) => {
        answer = resolve
      })
      return { type: 'held', requestId: frame.requestId, held: 0 }
    })
    try {
      await Promise.all([asking.start(), silent.start()])
      await a.dial(b.getMultiaddrs()[0])
      const peer = b.peerId.toString()
      const pending = asking.request(peer, { type: 'forget', requestId: crypto.randomUUID() })
      const failed = pending.then(
        () => undefined,
        (err: Error) => err,
      )
      await heardFrame
      const stopped = performance.now()
      await asking.stop()
      expect(await failed).toBeInstanceOf(RpcClosedError)
      expect(performance.now() - stopped).toBeLessThan(CUSTODY_TIMEOUT_MS / 4)
      await expect(
        asking.request(peer, { type: 'forget', requestId: crypto.randomUUID() }),
      ).rejects.toBeInstanceOf(RpcAbortedError)
    } finally {
      answer()
      await Promise.all([asking.stop(), silent.stop()])
      await Promise.all([a.stop(), b.stop()])
    }
  })
})
