import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshClient } from '../../src/client/taskmesh-client.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { STEAL_PROTOCOL_1_1 } from '../../src/protocol/constants.ts'
import { RemoteError } from '../../src/protocol/errors.ts'
import { type StealReply, stealReplySchema } from '../../src/protocol/messages/messages.ts'
import { requestOnce } from '../../src/protocol/rpc/rpc.ts'
import { connectAll } from '../../src/simulation/mesh.ts'
import { dialNode, type RawPeer, startRawPeer, stopAll, WAIT_MS, waitAll, waitFor } from './helpers.ts'

/**
 * The allow-list names every peer whose tasks a node takes into its hands: the node leases its own
 * tasks to none but them either (a steal of anyone else is granted nothing, and what such a peer
 * renews, completes or releases changes nothing), and takes a `cancel` from none but them.
 */

/** One steal-protocol request from a raw peer (what a hostile key-holder sends), and its reply. */
async function ask(peer: RawPeer, node: TaskmeshNode, request: Record<string, unknown>): Promise<StealReply> {
  const stream = await peer.dialProtocol(multiaddr(node.multiaddrs[0]), STEAL_PROTOCOL_1_1)
  return requestOnce(stream, { requestId: crypto.randomUUID(), ...request }, stealReplySchema, {
    signal: AbortSignal.timeout(5_000),
  })
}

/** A steal that asks for everything, offering whatever a task may need. */
const greedySteal = {
  type: 'steal',
  max: 1000,
  offer: { types: ['echo', 'sleep', 'noop', 'fail'], labels: ['gpu'], slots: 4096, memoryMb: 16_777_216 },
  queued: 0,
  queuedWorkMs: 0,
  speed: 1_000_000,
  freeSlots: 4096,
}

const gpu = (n: number) => ({ type: 'echo', input: n, resources: { labels: ['gpu'] } })

describe('with an allow-list, a node leases its tasks to listed peers only', () => {
  let nodes: TaskmeshNode[] = []
  let raw: RawPeer | undefined
  let clients: TaskmeshClient[] = []

  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
    await stopAll([raw, ...nodes])
    nodes = []
    clients = []
    raw = undefined
  })

  it('an unlisted peer that steals is granted nothing, and renews, completes and releases nothing', async () => {
    const listedKey = await generateKeyPair('Ed25519')
    const listed = peerIdFromPrivateKey(listedKey).toString()
    // O cannot run its own tasks (they need gpu): they wait in its queue, stealable
    const o = await TaskmeshNode.create({ slots: 1, allowSubmitters: [listed] })
    nodes.push(o)
    const handles = await o.submitMany([gpu(1), gpu(2)])
    const ids = handles.map((h) => h.id)
    raw = await startRawPeer()
    await dialNode(raw, o)

    const grant = await ask(raw, o, greedySteal)
    expect(grant).toMatchObject({ type: 'grant', tasks: [], leases: [] })
    const leases = ids.map((taskId) => ({ taskId, epoch: 1 }))
    expect(await ask(raw, o, { type: 'renew', leases })).toMatchObject({
      type: 'renewed',
      accepted: [],
      rejected: ids,
    })
    const completions = ids.map((taskId) => ({ taskId, epoch: 1, status: 'succeeded' }))
    const completed = await ask(raw, o, { type: 'complete', completions })
    expect(completed).toMatchObject({ type: 'completed' })
    expect(completed.type === 'completed' && completed.outcomes.map((c) => c.outcome)).toEqual([
      'stale',
      'stale',
    ])
    expect(await ask(raw, o, { type: 'release', leases })).toMatchObject({ type: 'released', released: [] })
    expect(o.status()).toMatchObject({ queued: 2, leasedOut: 0, counters: { tasksGranted: 0 } })
    for (const id of ids) {
      expect((await o.taskState(id)).state).toMatch(/^(queued|unschedulable)$/)
      expect(o.story(id).map((e) => e.event)).not.toContain('granted')
    }

    // a listed node with the label still steals them (or is offered them) and runs them
    const l = await TaskmeshNode.create({ slots: 2, labels: ['gpu'], privateKey: listedKey })
    nodes.push(l)
    await connectAll([o, l])
    const records = await waitAll(o, ids)
    expect(records.map((r) => [r.status, r.executor])).toEqual([
      ['succeeded', listed],
      ['succeeded', listed],
    ])
  })

  it('an unlisted full node gets none of its tasks, by steal or by offer; a listed one runs them', async () => {
    const listedKey = await generateKeyPair('Ed25519')
    const listed = peerIdFromPrivateKey(listedKey).toString()
    const o = await TaskmeshNode.create({ slots: 1, beaconIntervalMs: 200, allowSubmitters: [listed] })
    // N (no allow-list of its own) would run O's tasks: it has the label, and is idle
    const n = await TaskmeshNode.create({ slots: 2, labels: ['gpu'], beaconIntervalMs: 200 })
    nodes.push(o, n)
    const ids = (await o.submitMany([gpu(1), gpu(2), gpu(3)])).map((h) => h.id)
    await connectAll([o, n])
    // a thief steals again only once its steal before was answered: two mean one reply at least
    await waitFor(
      () => n.status().counters.stealRequests >= 2,
      WAIT_MS,
      () => `N sent ${n.status().counters.stealRequests} steals to O`,
    )
    expect(n.status()).toMatchObject({ leasedIn: 0, queued: 0, counters: { executed: 0 } })
    expect(o.status()).toMatchObject({ queued: 3, leasedOut: 0, counters: { tasksGranted: 0 } })
    for (const id of ids) expect(o.story(id).map((e) => e.event)).not.toContain('granted')

    const l = await TaskmeshNode.create({ slots: 2, labels: ['gpu'], privateKey: listedKey })
    nodes.push(l)
    await connectAll([o, n, l])
    const records = await waitAll(o, ids)
    expect(records.every((r) => r.status === 'succeeded' && r.executor === listed)).toBe(true)
    expect(n.status().counters.executed).toBe(0)
  })
})

describe('with an allow-list, a node takes a cancel from listed peers only', () => {
  let nodes: TaskmeshNode[] = []
  let clients: TaskmeshClient[] = []

  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
    await stopAll(nodes)
    nodes = []
    clients = []
  })

  const connect = async (node: TaskmeshNode, opts: Parameters<typeof TaskmeshClient.connect>[1] = {}) => {
    const client = await TaskmeshClient.connect(node.multiaddrs[0], opts)
    clients.push(client)
    return client
  }

  it("refuses an unlisted peer's cancel and reads with ERR_NOT_ALLOWED; a listed client's, and one a listed node forwards, cancel", async () => {
    const clientKey = await generateKeyPair('Ed25519')
    const meshKey = await generateKeyPair('Ed25519')
    const allowed = [clientKey, meshKey].map((k) => peerIdFromPrivateKey(k).toString())
    // nobody offers gpu: the tasks stay queued at O until cancelled
    const o = await TaskmeshNode.create({ slots: 1, allowSubmitters: allowed })
    const m = await TaskmeshNode.create({ slots: 1, privateKey: meshKey })
    nodes.push(o, m)
    await connectAll([o, m])
    const submitter = await connect(o, { privateKey: clientKey })
    const [first, second, third] = await submitter.submit([gpu(1), gpu(2), gpu(3)])

    const stranger = await connect(o)
    const impostor = await connect(o, { submitter: allowed[0] }) // names the listed client, is not it
    for (const client of [stranger, impostor]) {
      const err = await client.cancel(first).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(RemoteError)
      expect((err as RemoteError).code).toBe('ERR_NOT_ALLOWED')
      expect((err as RemoteError).message).toMatch(
        /^peer 12D3KooW\w+ may not cancel tasks on this node: it is not on the node's submitter allow-list$/,
      )
    }
    // nor does it read who submitted what, who runs it, or the node's peers
    for (const read of [() => stranger.story(first), () => stranger.state(first), () => stranger.status()]) {
      const err = await read().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((err as RemoteError).code).toBe('ERR_NOT_ALLOWED')
      expect((err as RemoteError).message).toMatch(/may not read the tasks and peers of this node/)
    }
    expect(await submitter.story(first)).not.toHaveLength(0)
    expect(await o.taskState(first)).toMatchObject({
      state: expect.stringMatching(/^(queued|unschedulable)$/),
    })
    expect(o.story(first).map((e) => e.event)).not.toContain('cancelled')
    expect(o.status().counters.accepted).toBe(3)

    // the listed client cancels at O itself
    expect(await submitter.cancel(first)).toMatchObject({ outcome: 'cancelled', owner: o.peerId })
    // a client of M (which has no list) cancels through M: M, listed at O, forwards it
    const viaMesh = await connect(m)
    expect(await viaMesh.cancel(second)).toMatchObject({ outcome: 'cancelled', owner: o.peerId })
    // and M's own library call, forwarded the same way
    expect(await m.cancel(third)).toMatchObject({ outcome: 'cancelled', owner: o.peerId })
    for (const id of [first, second, third]) expect((await o.getResult(id))?.error).toBe('cancelled')
  })
})
