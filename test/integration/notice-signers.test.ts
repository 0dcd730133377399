import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { encodeMessage } from '../../src/protocol/codec.ts'
import { CONTESTED_TOPIC } from '../../src/protocol/constants.ts'
import { dialNode, heardFrom, type RawPeer, startRawPeer, stopAll, validNotice, waitFor } from './helpers.ts'

/** A result notice of `n` distinct made-up tasks (valid ids, valid fields: nothing to reject). */
function noticeOf(n: number, salt: number): Uint8Array {
  const [entry] = validNotice().results
  const results = Array.from({ length: n }, (_, i) => ({
    ...entry,
    // another valid id per entry: the base32 alphabet's letters in the id's middle
    taskId: `${entry.taskId.slice(0, 20)}${'abcdefghijklmnopqrstuvwxyz'[(salt + i) % 26]}${entry.taskId.slice(21)}`,
    epoch: 1 + salt * n + i,
  }))
  return encodeMessage({ v: 1, results })
}

describe('the signers of result notices, in a node’s status', () => {
  let node: TaskmeshNode | undefined
  let peer: RawPeer | undefined
  afterEach(async () => {
    await stopAll([peer, node])
  })

  it('names the member flooding valid notices, with its messages and entries', async () => {
    node = await TaskmeshNode.create({ slots: 1 })
    const n = node
    const flooder = await startRawPeer()
    peer = flooder
    await dialNode(flooder, n)
    await waitFor(
      () => flooder.services.pubsub.getSubscribers(CONTESTED_TOPIC).some((p) => p.toString() === n.peerId),
      10_000,
      'the peer never saw the node subscribe',
    )
    expect(n.status().noticeSigners).toEqual([])
    const heard = heardFrom(n, flooder.peerId.toString())
    for (let i = 0; i < 8; i++) await flooder.services.pubsub.publish(CONTESTED_TOPIC, noticeOf(50, i))
    await waitFor(
      () => heard() === 8,
      10_000,
      () => `the node took ${heard()} of 8 notices`,
    )
    expect(n.status().noticeSigners).toEqual([
      { peerId: flooder.peerId.toString(), messages: 8, entries: 400 },
    ])
  })
})
