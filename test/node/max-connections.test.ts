import { KEEP_ALIVE } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { resolveNodeOptions } from '../../src/node/options.ts'
import { ConnectionTrimmer, connectionHeadroom } from '../../src/node/peers/connection-trimmer.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { DEFAULT_MAX_CONNECTIONS, hardLimit } from '../../src/node/wire/libp2p-factory.ts'
import { InvalidTaskError } from '../../src/task/errors.ts'
import { stopAll, WAIT_MS } from '../integration/helpers.ts'

const listen = ['/ip4/127.0.0.1/tcp/0']

describe('maxConnections', () => {
  let nodes: TaskmeshNode[] = []
  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('defaults to DEFAULT_MAX_CONNECTIONS and refuses what is not a positive integer, naming the field', () => {
    expect(resolveNodeOptions({}).maxConnections).toBe(DEFAULT_MAX_CONNECTIONS)
    for (const bad of [0, -1, 1.5]) {
      expect(() => resolveNodeOptions({ maxConnections: bad })).toThrow(InvalidTaskError)
      expect(() => resolveNodeOptions({ maxConnections: bad })).toThrow(/must be a positive integer/)
    }
  })

  it('leaves libp2p room for newcomers beyond the limit: at least 8, a quarter of large limits', () => {
    expect([1, 32, 64, 200].map(connectionHeadroom)).toEqual([8, 8, 16, 50])
    expect(hardLimit(DEFAULT_MAX_CONNECTIONS)).toBe(40)
  })

  it('a node at its limit takes newcomers in; trimmed, it closes the oldest it may: not protected, not kept alive', async () => {
    const full = await TaskmeshNode.create({ maxConnections: 1, slots: 1, listen })
    const others = await Promise.all([1, 2, 3, 4].map(() => TaskmeshNode.create({ slots: 1, listen })))
    nodes = [full, ...others]
    const addr = multiaddr(full.multiaddrs[0])
    for (const o of others) await o.libp2p.dial(addr, { signal: AbortSignal.timeout(WAIT_MS) })
    const peersOf = () => full.libp2p.getConnections().map((c) => c.remotePeer.toString())
    // the dialler's side resolves first: wait for the full node to count each connection
    while (peersOf().length < others.length) {
      await new Promise((resolve) => full.libp2p.addEventListener('peer:connect', resolve, { once: true }))
    }
    // accepted beyond the limit of 1 (before, the second dial was refused)
    expect(peersOf().sort()).toEqual(others.map((o) => o.peerId).sort())

    const [oldest, alive, third, newest] = others
    // libp2p dials a peer tagged keep-alive again as soon as its connection closes: never trimmed
    await full.libp2p.peerStore.merge(alive.libp2p.peerId, { tags: { [`${KEEP_ALIVE}-test`]: { value: 1 } } })
    // kad-dht keeps its closest peers alive too, once it has pinged them (every 5 s): not these two
    for (const o of [third, newest]) {
      await full.libp2p.peerStore.merge(o.libp2p.peerId, { tags: { [`${KEEP_ALIVE}-kad-dht`]: undefined } })
    }
    const trimmer = new ConnectionTrimmer({
      libp2p: full.libp2p,
      limit: 3,
      protects: (peer) => peer === oldest.peerId,
      graceMs: 0,
    })
    expect(await trimmer.trim()).toBe(1)
    // the oldest connection it may close went; the protected, the kept-alive and the newest stay
    expect(peersOf().sort()).toEqual([oldest.peerId, alive.peerId, newest.peerId].sort())
    expect(trimmer.status).toEqual({ open: 3, limit: 3, trimmed: 1 })
    // and the peer cut off hears of it
    while (third.libp2p.getConnections(full.libp2p.peerId).length > 0) {
      await new Promise((resolve) =>
        third.libp2p.addEventListener('peer:disconnect', resolve, { once: true }),
      )
    }
    expect(await trimmer.trim()).toBe(0) // at its limit: nothing more

    // within the grace period nothing is closed, whatever the count
    const patient = new ConnectionTrimmer({
      libp2p: full.libp2p,
      limit: 1,
      protects: () => false,
      graceMs: 60_000,
    })
    expect(await patient.trim()).toBe(0)
    expect(peersOf()).toHaveLength(3)
  })
})
