import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { encodeMessage } from '../../src/protocol/codec.ts'
import { CONTESTED_TOPIC, MAX_NOTICE_BYTES } from '../../src/protocol/constants.ts'
import {
  deadline,
  dialNode,
  gossipScore,
  heardFrom,
  JUNK,
  type RawPeer,
  startRawPeer,
  stopAll,
  validNotice,
  waitFor,
} from './helpers.ts'

interface GossipCase {
  name: string
  topic: string
  /** The payload, built for the publishing peer and the victim node. */
  payload(attacker: string, victim: string): Uint8Array
}

const GOSSIP_CASES: GossipCase[] = [
  { name: 'junk bytes as a result notice', topic: CONTESTED_TOPIC, payload: () => JUNK },
  {
    name: 'a result notice over the size limit',
    topic: CONTESTED_TOPIC,
    payload: () => {
      const bytes = encodeMessage({ v: 1, pad: 'p'.repeat(MAX_NOTICE_BYTES) })
      expect(bytes.byteLength).toBeGreaterThan(MAX_NOTICE_BYTES)
      return bytes
    },
  },
  {
    name: 'a result notice that breaks the schema (bad task id, status and executor)',
    topic: CONTESTED_TOPIC,
    payload: () =>
      encodeMessage({
        v: 1,
        taskId: 'not-a-task-id',
        status: 'done',
        executor: 'nobody',
        epoch: -1,
        results: 'all of them',
      }),
  },
]

/**
 * Starts a fresh raw peer (recorded in `peers` at once, for cleanup), connects it to `node` and
 * waits until it knows `node` listens on `topic`.
 */
async function attackerFor(node: TaskmeshNode, topic: string, peers: RawPeer[]): Promise<RawPeer> {
  const peer = await startRawPeer()
  peers.push(peer)
  await dialNode(peer, node)
  await waitFor(
    () => peer.services.pubsub.getSubscribers(topic).some((p) => p.toString() === node.peerId),
    10_000,
    `the attacker never saw the node subscribe to ${topic}`,
  )
  return peer
}

/** Shows the node still works: a task submitted now runs and succeeds. */
async function stillExecutes(node: TaskmeshNode): Promise<void> {
  expect(node.libp2p.status).toBe('started')
  const handle = await node.submit({ type: 'echo', input: 'still here' })
  const r = await handle.result(deadline())
  expect(r.status).toBe('succeeded')
  expect(r.output).toBe('still here')
}

describe('hostile gossip', () => {
  let node: TaskmeshNode | undefined
  let peers: RawPeer[] = []

  beforeEach(async () => {
    node = await TaskmeshNode.create({ slots: 1 })
  })

  afterEach(async () => {
    await stopAll([...peers, node])
    peers = []
    node = undefined
  })

  it('rejects every malformed or oversized notice (the sender’s score drops) and keeps working', async () => {
    const n = node!
    // One fresh signed peer per message, all at once: the first rejection graylists a peer, so
    // each peer can prove exactly one rejection.
    const outcomes = await Promise.allSettled(
      GOSSIP_CASES.map(async (c) => {
        const peer = await attackerFor(n, c.topic, peers)
        const sender = peer.peerId.toString()
        const { recipients } = await peer.services.pubsub.publish(c.topic, c.payload(sender, n.peerId))
        expect(recipients.map(String), `${c.name}: not sent to the node`).toContain(n.peerId)
        await waitFor(
          () => gossipScore(n, sender) < 0,
          10_000,
          () => `${c.name}: accepted (score ${gossipScore(n, sender)})`,
        )
        return sender
      }),
    )
    const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []))
    expect(failures).toEqual([])

    // None of them counts as a mesh peer, and the node still runs work.
    const senders = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []))
    for (const s of senders) expect(n.knownPeers()).not.toContain(s)
    await stillExecutes(n)
  })

  it('accepts a well-formed notice from the same kind of raw peer (control: the rejections above are about content)', async () => {
    const n = node!
    const peer = await attackerFor(n, CONTESTED_TOPIC, peers)
    const sender = peer.peerId.toString()
    const heard = heardFrom(n, sender)
    await peer.services.pubsub.publish(CONTESTED_TOPIC, encodeMessage(validNotice()))
    await waitFor(() => heard() === 1, 10_000, 'the valid notice was not accepted')
    expect(gossipScore(n, sender)).toBeGreaterThanOrEqual(0)
    await stillExecutes(n)
  })
})
