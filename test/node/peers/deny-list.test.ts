import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { DenyList } from '../../../src/node/peers/deny-list.ts'
import { InvalidTaskError } from '../../../src/task/errors.ts'

const newPeer = async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const [a, b, c] = await Promise.all([newPeer(), newPeer(), newPeer()])
const conn = {} as never

/** Connections of a host, each remembering whether it was aborted. */
function hostOf(peers: PeerId[]) {
  const conns = peers.map((remotePeer) => ({
    remotePeer,
    aborted: undefined as Error | undefined,
    abort(err: Error) {
      this.aborted = err
    },
  }))
  return { conns, getConnections: () => conns }
}

describe('DenyList', () => {
  it('refuses dials and connections of denied peers only, then lets the other gater decide', async () => {
    const list = new DenyList([a.toString()])
    const gater = list.gater({ denyDialPeer: (p) => p.equals(c) })
    expect(await gater.denyDialPeer?.(a)).toBe(true)
    expect(await gater.denyDialPeer?.(b)).toBe(false)
    expect(await gater.denyDialPeer?.(c)).toBe(true) // the inner rule
    expect(await gater.denyInboundEncryptedConnection?.(a, conn)).toBe(true)
    expect(await gater.denyOutboundEncryptedConnection?.(a, conn)).toBe(true)
    expect(await gater.denyInboundEncryptedConnection?.(b, conn)).toBe(false)
    expect(list.has(a.toString())).toBe(true)
    expect(list.size).toBe(1)
  })

  it('replacing the list cuts the connections to newly denied peers and lets the others be', async () => {
    const list = new DenyList()
    const gater = list.gater()
    const host = hostOf([a, b, a])
    list.attach(host)
    expect(list.replace([a.toString(), a.toString()])).toBe(2)
    expect(host.conns.map((x) => x.aborted?.message)).toEqual(['peer denied', undefined, 'peer denied'])
    expect(list.size).toBe(1)
    expect(await gater.denyDialPeer?.(a)).toBe(true) // the gater reads the list as it is now
    expect(list.replace([])).toBe(0)
    expect(await gater.denyDialPeer?.(a)).toBe(false)
  })

  it('an entry that is not a peer id is refused, naming it, and the list stays as it was', () => {
    const list = new DenyList([a.toString()])
    list.attach(hostOf([b]))
    expect(() => list.replace([b.toString(), 'nope'])).toThrow(InvalidTaskError)
    expect(() => list.replace([b.toString(), 'nope'])).toThrow(/denyPeers\[1\].*"nope" is not a peer id/)
    expect(list.has(a.toString())).toBe(true)
    expect(list.has(b.toString())).toBe(false)
  })
})
