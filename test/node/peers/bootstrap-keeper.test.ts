import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../../src/node/taskmesh-node.ts'
import { freePort } from '../../../src/util/free-port.ts'
import { stopAll, WAIT_MS } from '../../integration/helpers.ts'

/** Resolves once `node` has (or, with `connected` false, has no) connection to `peer`; fails after WAIT_MS. */
function connection(node: TaskmeshNode, peer: string, connected = true): Promise<void> {
  const event = connected ? 'peer:connect' : 'peer:disconnect'
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${event} of ${peer} did not come`)), WAIT_MS)
    const check = () => {
      if (node.libp2p.getConnections().some((c) => c.remotePeer.toString() === peer) === connected) {
        clearTimeout(timer)
        node.libp2p.removeEventListener(event, check)
        resolve()
      }
    }
    node.libp2p.addEventListener(event, check)
    check()
  })
}

describe('bootstrap keeper', () => {
  let nodes: TaskmeshNode[] = []
  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('a node started before its bootstrap peer connects once that peer is up, and again after it restarts', async () => {
    const key: PrivateKey = await generateKeyPair('Ed25519')
    const peer = peerIdFromPrivateKey(key).toString()
    const listen = `/ip4/127.0.0.1/tcp/${await freePort()}`
    // a dials b, which is not listening yet: the first dial fails
    const a = await TaskmeshNode.create({ bootstrap: [`${listen}/p2p/${peer}`] })
    nodes.push(a)
    expect(a.libp2p.getConnections()).toHaveLength(0)

    // b knows nothing of a and never dials it: only a's redial can connect them
    let b = await TaskmeshNode.create({ privateKey: key, listen: [listen] })
    nodes.push(b)
    await connection(a, peer)

    await b.stop()
    await connection(a, peer, false)
    b = await TaskmeshNode.create({ privateKey: key, listen: [listen] })
    nodes.push(b)
    await connection(a, peer)
  })
})
