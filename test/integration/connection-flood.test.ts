import net from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { dialNode, type RawPeer, startRawPeer, stopAll } from './helpers.ts'

/** Sockets the flood keeps open: more than a node's pending inbound connections (1,000). */
const FLOOD_SOCKETS = 1_100

/**
 * An outsider floods a node's port from one host with connections that never say a word (no key,
 * no handshake). It must not shut everyone else out: a peer dialling from another host connects.
 * The flood comes from 127.0.0.2, the peer from 127.0.0.1 (two hosts of the loopback network).
 */
describe('a node flooded with silent connections from one host', () => {
  let node: TaskmeshNode | undefined
  let peer: RawPeer | undefined
  let stopped = false
  const sockets = new Set<net.Socket>()
  afterAll(async () => {
    stopped = true
    for (const s of sockets) s.destroy()
    await stopAll([peer, node])
  })

  it('lets a peer from another host connect meanwhile', async () => {
    node = await TaskmeshNode.create({ slots: 1 })
    const port = Number(node.multiaddrs[0].split('/tcp/')[1].split('/')[0])
    let connected = 0
    const open = () => {
      const s = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' })
      sockets.add(s)
      s.on('connect', () => connected++)
      s.on('error', () => undefined)
      s.on('close', () => {
        sockets.delete(s)
        if (!stopped) setTimeout(open, 50) // a closed one is opened again
      })
    }
    for (let i = 0; i < FLOOD_SOCKETS; i++) open()
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (connected < FLOOD_SOCKETS) return
        clearInterval(check)
        resolve()
      }, 20)
    })
    peer = await startRawPeer()
    await dialNode(peer, node)
    expect(peer.getConnections(node.libp2p.peerId)).not.toHaveLength(0)
  }, 30_000)
})
