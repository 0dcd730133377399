import { afterEach, describe, expect, it } from 'vitest'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { GOSSIP_SCORE_THRESHOLDS } from '../../src/node/wire/gossip-score.ts'
import { encodeMessage } from '../../src/protocol/codec.ts'
import { CONTESTED_TOPIC } from '../../src/protocol/constants.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { watchRpcs } from './gossip-watch.ts'
import {
  dialNode,
  gossipScore,
  heardFrom,
  type RawPeer,
  sleepSpec,
  startRawPeer,
  stopAll,
  validNotice,
  waitAll,
  waitFor,
} from './helpers.ts'

const { graylistThreshold } = GOSSIP_SCORE_THRESHOLDS

describe('peer score and graylist', () => {
  let nodes: TaskmeshNode[] = []
  let attacker: RawPeer | undefined

  afterEach(async () => {
    await stopAll([attacker, ...nodes])
    nodes = []
    attacker = undefined
  })

  it('a signed peer that sends malformed gossip is graylisted by every node it reached: its later valid gossip is dropped unread, and honest steals go on', async () => {
    // V owns work only H can run (label gpu), so every one of its tasks must be stolen by H
    nodes = await startLocalMesh({
      nodes: 2,
      slots: [1, 2],
      nodeOptions: (i) => (i === 1 ? { labels: ['gpu'] } : {}),
    })
    const [v, h] = nodes
    const a = await startRawPeer()
    attacker = a
    const self = a.peerId.toString()
    for (const n of nodes) await dialNode(a, n)
    await waitFor(
      () =>
        nodes.every((n) =>
          a.services.pubsub.getSubscribers(CONTESTED_TOPIC).some((p) => p.equals(n.libp2p.peerId)),
        ),
      10_000,
      'the attacker never saw both nodes subscribe',
    )

    // control: a well-formed notice from the same peer is read by both nodes
    const heard = nodes.map((n) => heardFrom(n, self))
    await a.services.pubsub.publish(CONTESTED_TOPIC, encodeMessage(validNotice()))
    await waitFor(() => heard.every((h) => h() === 1), 10_000, 'the valid notice was not read')
    for (const n of nodes) expect(gossipScore(n, self)).toBe(0)

    // one malformed notice (published to both): each node rejects it, and the sender's score
    // falls below the graylist threshold at once
    const seen = nodes.map((n) => watchRpcs(n))
    const bad = await a.services.pubsub.publish(
      CONTESTED_TOPIC,
      encodeMessage(validNotice({ results: 'many' })),
    )
    expect(bad.recipients.map(String).sort()).toEqual([v.peerId, h.peerId].sort())
    await waitFor(
      () => nodes.every((n) => gossipScore(n, self) < graylistThreshold),
      10_000,
      () => `scores stayed ${nodes.map((n) => gossipScore(n, self)).join(', ')}`,
    )

    // a later well-formed notice reaches both nodes, which drop it unread
    const marks = seen.map((s) => s.length)
    const good = await a.services.pubsub.publish(CONTESTED_TOPIC, encodeMessage(validNotice()))
    expect(good.recipients.map(String).sort()).toEqual([v.peerId, h.peerId].sort())
    await waitFor(
      () => seen.every((s, i) => s.slice(marks[i]).some((r) => r.from === self && r.messages > 0)),
      10_000,
      'the later notice never reached both nodes',
    )
    seen.forEach((s, i) => {
      const fromAttacker = s.slice(marks[i]).filter((r) => r.from === self)
      expect(fromAttacker.length).toBeGreaterThan(0)
      for (const r of fromAttacker)
        expect(r.accepted, `${nodes[i].peerId} read an RPC of the graylisted peer`).toBe(false)
      expect(heard[i]()).toBe(1) // only the first, valid one was ever delivered
    })

    // the honest peers are untouched: H steals and runs V's tasks, and neither scores the other down
    const handles = await v.submitMany(
      Array.from({ length: 4 }, (_, i) => sleepSpec(20, i, { resources: { labels: ['gpu'] } })),
    )
    const records = await waitAll(
      v,
      handles.map((x) => x.id),
    )
    for (const r of records) expect(r).toMatchObject({ status: 'succeeded', executor: h.peerId })
    expect(gossipScore(v, h.peerId)).toBeGreaterThanOrEqual(0)
    expect(gossipScore(h, v.peerId)).toBeGreaterThanOrEqual(0)
    expect(v.libp2p.status).toBe('started')
  })
})
