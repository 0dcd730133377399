import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../../src/log/logger.ts'
import { hintOf, RESET_HINT, TIMEOUT_HINT, withoutSelf } from '../../../src/node/peers/bootstrap-keeper.ts'
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

  it('skips its own address in a bootstrap list every node of the mesh is given, saying so', async () => {
    const keys = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')])
    const ports = await Promise.all([freePort(), freePort()])
    const seeds = keys.map((k, i) => `/ip4/127.0.0.1/tcp/${ports[i]}/p2p/${peerIdFromPrivateKey(k)}`)
    expect(withoutSelf(seeds, peerIdFromPrivateKey(keys[0]).toString())).toEqual([seeds[1]])
    const logged: Array<Record<string, unknown>> = []
    const destination = { write: (line: string) => logged.push(JSON.parse(line)) }
    const [a, b] = await Promise.all(
      keys.map((privateKey, i) =>
        TaskmeshNode.create({
          privateKey,
          listen: [`/ip4/127.0.0.1/tcp/${ports[i]}`],
          bootstrap: seeds,
          ...(i === 0 ? { logger: createLogger({ level: 'info', format: 'json', destination }) } : {}),
        }),
      ),
    )
    nodes.push(a, b)
    await connection(a, b.peerId)
    expect(logged.filter((l) => l.msg === 'bootstrap address is this node: skipped')).toEqual([
      expect.objectContaining({ bootstrap: seeds[0] }),
    ])
  })

  it('a failed bootstrap dial a swarm key mismatch looks like carries a hint, another does not', () => {
    expect(hintOf('The operation was aborted due to timeout')).toEqual({ hint: TIMEOUT_HINT })
    expect(hintOf('read ECONNRESET')).toEqual({ hint: RESET_HINT })
    expect(hintOf('EncryptionFailedError: stream ended before 1 bytes became available')).toEqual({
      hint: RESET_HINT,
    })
    expect(RESET_HINT).toMatch(/another swarm key \(check both use the same key\)/)
    expect(hintOf('connect ECONNREFUSED 127.0.0.1:4001')).toEqual({})
    expect(hintOf('Message length length too long - 3 > 2')).toEqual({ hint: RESET_HINT })
    expect(hintOf('Missing newline')).toEqual({ hint: RESET_HINT })
  })
})
