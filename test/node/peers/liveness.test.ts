import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { beforeAll, describe, expect, it } from 'vitest'
import { PeerLiveness } from '../../../src/node/peers/liveness.ts'

const peers: string[] = []
beforeAll(async () => {
  for (let i = 0; i < 4; i++) peers.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
})

describe('PeerLiveness', () => {
  it('declares a peer dead after the window of silence, or the grace after a disconnect; a beacon revives it', () => {
    const live = new PeerLiveness({ windowMs: 1_000, disconnectGraceMs: 300 })
    live.heard('p', 0)
    live.heard('q', 0)
    live.disconnected('q', 100)
    expect(live.check(399)).toEqual([])
    expect(live.check(400)).toEqual(['q']) // disconnected and silent for the grace
    live.heard('p', 900)
    expect(live.check(1_500)).toEqual([])
    expect(live.check(1_900)).toEqual(['p']) // silent for the window
    expect(live.check(5_000)).toEqual([]) // declared once
    expect(live.isDead('p')).toBe(true)
    expect(live.live()).toEqual([])
    expect(live.heardAt('p')).toBe(900) // what it may have missed went out since
    expect(live.heard('p', 5_001)).toBe(true)
    expect(live.heardAt('p')).toBe(5_001)
    expect(live.live()).toEqual(['p'])
    // a disconnect followed by a beacon (the peer is reachable through others) is no death
    live.disconnected('p', 5_100)
    live.heard('p', 5_200)
    expect(live.check(5_450)).toEqual([])
    // a peer that disconnects before its first beacon arrived (a thief that stole at once) is tracked
    live.heard('p', 6_000)
    live.disconnected('r', 6_000)
    expect(live.check(6_300)).toEqual(['r'])
  })

  it('does not count the time this node stalled: silence and disconnect grace count from the stall’s end', () => {
    const live = new PeerLiveness({ windowMs: 1_000, disconnectGraceMs: 300 })
    live.heard('p', 0)
    live.heard('q', 0)
    live.disconnected('q', 100)
    live.postpone(2_000) // this node stalled 2 s; what p and q sent meanwhile is still unread
    expect(live.check(2_399)).toEqual([])
    expect(live.check(2_400)).toEqual(['q'])
    expect(live.check(2_999)).toEqual([])
    expect(live.check(3_000)).toEqual(['p'])
    // a dead peer stays dead through a stall
    live.postpone(5_000)
    expect(live.isDead('p')).toBe(true)
    expect(live.live()).toEqual([])
  })
})
