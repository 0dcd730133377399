import { isDeepStrictEqual } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { ConnectionGater, PeerId, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, describe, expect, it } from 'vitest'
import { KEEP_MIN_CONNECTIONS } from '../../src/node/peers/bootstrap-keeper.ts'
import { libp2pRedialsMs, type PeerRedials } from '../../src/node/peers/liveness-watch.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import { waitForMesh } from '../../src/simulation/mesh.ts'
import { identity, sleepSpec, stopAll, WAIT_MS, waitAll, waitFor } from './helpers.ts'

/**
 * A network cut between two parts of a mesh, and its end. Seven real nodes over TCP: S a seed, A–F
 * bootstrapped to it. Each node's libp2p connection gater — a firewall's rule kept in the process —
 * parts {S, A} from {B, C, D, E, F} while the cut lasts: their connections are reset, and every
 * dial and every connection across is refused. Each part goes on alone (it judges the other dead:
 * their tasks are adopted by whichever custodians it holds). The cut outlasts libp2p's own redials.
 * Once it ends the mesh forms whole within seconds — the part without a seed has 4 connections a
 * node, enough for its bootstrap keepers to wait minutes before they dial the seed again: the
 * nodes dial the peers they declared dead — and every task of either part has one result that
 * every node reads alike.
 */

const BEACON_MS = 200
const DETECTION_MS = 3 * BEACON_MS + 600

const names = ['s', 'a', 'b', 'c', 'd', 'e', 'f'] as const
type Name = (typeof names)[number]
const keys = Object.fromEntries(
  await Promise.all(names.map(async (n) => [n, await generateKeyPair('Ed25519')] as const)),
) as Record<Name, PrivateKey>
const id = (n: Name) => peerIdFromPrivateKey(keys[n]).toString()
const apart = new Set([id('b'), id('c'), id('d'), id('e'), id('f')])
let cut = false

/** The gater of the node `self`: refuses every peer across the cut while it lasts. */
function gater(self: Name): ConnectionGater {
  const across = async (peer: PeerId) => cut && apart.has(id(self)) !== apart.has(peer.toString())
  return {
    denyDialPeer: across,
    denyInboundEncryptedConnection: across,
    denyOutboundEncryptedConnection: across,
  }
}

/**
 * How the nodes dial again the peers across: libp2p's redials (250 + 500 ms after a break, where a
 * daemon's last 31 s), then the nodes' own rounds for peers declared dead, one a second (10 s).
 * The schedule of a daemon, shortened: the cut outlasts it as a cut of minutes outlasts a daemon's.
 */
const REDIALS: PeerRedials = { retries: 2, firstMs: 250, lostMs: 1_000 }

const nodes: Partial<Record<Name, TaskmeshNode>> = {}
const all = () => names.map((n) => nodes[n] as TaskmeshNode)
const common = { slots: 1, beaconIntervalMs: BEACON_MS, failureDetectionMs: DETECTION_MS, redials: REDIALS }

afterAll(() => stopAll(Object.values(nodes)))

describe('a network cut between two parts of a mesh', () => {
  it('each part goes on alone; once the cut ends the mesh forms whole and every node reads one result a task', async () => {
    nodes.s = await TaskmeshNode.create({ ...common, privateKey: keys.s, connectionGater: gater('s') })
    const bootstrap = [nodes.s.multiaddrs[0]]
    for (const n of ['a', 'b', 'c', 'd', 'e', 'f'] as const) {
      nodes[n] = await TaskmeshNode.create({
        ...common,
        privateKey: keys[n],
        bootstrap,
        connectionGater: gater(n),
      })
    }
    const [s, a, b, c, ...rest] = all()
    const one = [s, a]
    const other = [b, c, ...rest]
    await waitForMesh(all(), WAIT_MS)

    // work at both parts, running everywhere (one slot a node) when the cut comes
    const before = [
      ...(await a.submitMany([1, 2, 3, 4, 5, 6].map((i) => sleepSpec(800, `a${i}`)))),
      ...(await c.submitMany([1, 2, 3, 4, 5, 6].map((i) => sleepSpec(800, `c${i}`)))),
    ]
    await waitFor(() => all().every((n) => n.status().running > 0), WAIT_MS, 'a node never started a task')

    cut = true
    // a cut resets connections (or times them out): none closes cleanly, as a trimmed one does
    for (const here of one)
      for (const there of other)
        for (const conn of here.libp2p.getConnections(there.libp2p.peerId))
          conn.abort(new Error('network cut'))
    const knows = (n: TaskmeshNode, part: TaskmeshNode[]) =>
      part.some((o) => n.knownPeers().includes(o.peerId))
    await waitFor(
      () => one.every((n) => !knows(n, other)) && other.every((n) => !knows(n, one)),
      WAIT_MS,
      'the parts still count each other alive',
    )
    expect(a.libp2p.getConnections(b.libp2p.peerId)).toHaveLength(0)
    // the part without the seed is a mesh of its own: its bootstrap keepers wait minutes
    for (const n of other)
      expect(n.libp2p.getConnections().length).toBeGreaterThanOrEqual(KEEP_MIN_CONNECTIONS)

    // each part runs what is submitted to it alone
    const [inA] = await a.submitMany([sleepSpec(10, 'in-a')])
    const [inB] = await b.submitMany([sleepSpec(10, 'in-b')])
    expect((await waitAll(a, [inA.id]))[0].status).toBe('succeeded')
    expect((await waitAll(b, [inB.id]))[0].status).toBe('succeeded')

    // the cut lasts longer than libp2p's own redials of the peers kad-dht keeps alive: past them
    // nothing of libp2p dials across. Its length is the scenario (a cut of a minute or an hour is
    // the same from here on), not a wait for an event.
    await new Promise((resolve) => setTimeout(resolve, libp2pRedialsMs(REDIALS) + 3_000))

    cut = false
    // the peers each part declared dead are dialled again: every node hears all six others
    await waitForMesh(all(), 10 * REDIALS.lostMs)

    const ids = [...before.map((h) => h.id), inA.id, inB.id]
    const read = () => Promise.all(all().map((n) => waitAll(n, ids, 30_000)))
    const first = await read()
    for (const records of first) expect(records.map((r) => r.status)).toEqual(ids.map(() => 'succeeded'))
    // a task run in both parts has two records; the selector's (the higher epoch) is read everywhere
    const winners = ids.map((_, i) => Math.max(...first.map((records) => records[i].epoch)))
    const converged = (seen: ResultRecord[][]) =>
      seen.every((records) => records.every((r, i) => r.epoch === winners[i])) &&
      seen.every((records) => isDeepStrictEqual(records.map(identity), seen[0].map(identity)))
    let seen = first
    const until = Date.now() + WAIT_MS
    while (!converged(seen) && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 200)) // no event says "every node agrees"
      seen = await read()
    }
    for (const records of seen) expect(records.map(identity)).toEqual(seen[0].map(identity))
    expect(seen[0].map((r) => r.epoch)).toEqual(winners)
  }, 180_000)
})
