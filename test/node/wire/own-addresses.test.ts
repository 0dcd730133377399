import { generateKeyPair } from '@libp2p/crypto/keys'
import { MemoryDatastore } from 'datastore-core'
import { describe, expect, it } from 'vitest'
import { createMeshLibp2p } from '../../../src/node/wire/libp2p-factory.ts'
import { OwnAddresses } from '../../../src/node/wire/own-addresses.ts'

describe('OwnAddresses', () => {
  it("keeps libp2p's addresses between reads and reads them again once a transport closes", async () => {
    const libp2p = await createMeshLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      datastore: new MemoryDatastore(),
    })
    await libp2p.start()
    const addresses = new OwnAddresses(libp2p)
    const read = () => libp2p.getMultiaddrs().map(String)
    try {
      const first = addresses.list()
      expect(first.length).toBeGreaterThan(0)
      expect(first).toEqual(read())
      first.pop() // a caller's copy: changing it changes nothing kept
      expect(addresses.list()).toEqual(read())
    } finally {
      await libp2p.stop()
    }
    expect(read()).toEqual([])
    expect(addresses.list()).toEqual([])
  })
})
