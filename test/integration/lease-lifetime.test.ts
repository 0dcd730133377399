import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { LEASE_LIFE_GRACE_TTLS } from '../../src/policy/leases.ts'
import { STEAL_PROTOCOL_1_1 } from '../../src/protocol/constants.ts'
import { type StealReply, stealReplySchema } from '../../src/protocol/messages/messages.ts'
import { requestOnce } from '../../src/protocol/rpc/rpc.ts'
import { connectAll } from '../../src/simulation/mesh.ts'
import {
  dialNode,
  type RawPeer,
  sleepSpec,
  startRawPeer,
  stopAll,
  WAIT_MS,
  waitAll,
  waitFor,
} from './helpers.ts'

/**
 * A lease lives at most its task's `timeoutMs` plus 30 lease TTLs, renewals included. A thief that
 * keeps renewing a task it never finishes (here a raw peer speaking the steal protocol) is refused
 * once that is over: the owner takes the task back as from a lost executor — the run joins its
 * attempts as `cut: "lost"` — and requeues it for an honest thief. Honest thieves, renewing well
 * past one TTL or running up to the timeout, keep their leases to the end of their runs.
 */

const TIMEOUT_MS = 1_000
const TTL_MS = 100
/** How long a lease may live: the timeout, and 30 TTLs for the wait in a thief's queue. */
const LIFE_MS = TIMEOUT_MS + LEASE_LIFE_GRACE_TTLS * TTL_MS

/** One steal-protocol request from the raw peer, and its reply. */
async function ask(peer: RawPeer, node: TaskmeshNode, request: Record<string, unknown>): Promise<StealReply> {
  const stream = await peer.dialProtocol(multiaddr(node.multiaddrs[0]), STEAL_PROTOCOL_1_1)
  return requestOnce(stream, { requestId: crypto.randomUUID(), ...request }, stealReplySchema, {
    signal: AbortSignal.timeout(5_000),
  })
}

describe('the life of a lease is bounded by its task timeout', () => {
  let nodes: TaskmeshNode[] = []
  let raw: RawPeer | undefined

  afterEach(async () => {
    await stopAll([raw, ...nodes])
    nodes = []
    raw = undefined
  })

  it('a thief that renews for ever loses the task after timeoutMs + 30 TTLs; an honest thief runs its own', async () => {
    // O cannot run its tasks (they need gpu)
    const o = await TaskmeshNode.create({ slots: 1, leaseTtlMs: TTL_MS, beaconIntervalMs: 200 })
    nodes.push(o)
    const [held] = await o.submitMany([
      { type: 'echo', input: 'held', timeoutMs: TIMEOUT_MS, resources: { labels: ['gpu'] } },
    ])
    const hostile = await startRawPeer()
    raw = hostile
    const h = hostile.peerId.toString()
    await dialNode(hostile, o)

    const asked = Date.now()
    const grant = await ask(hostile, o, {
      type: 'steal',
      max: 10,
      offer: { types: ['echo'], labels: ['gpu'], slots: 16, memoryMb: 1024 },
      ...{ queued: 0, queuedWorkMs: 0, speed: 1, freeSlots: 16 },
    })
    expect(grant.type === 'grant' && grant.leases.map((l) => [l.taskId, l.epoch])).toEqual([[held.id, 1]])
    // it renews every quarter TTL (more often than a conforming thief) and never completes
    let rejectedAfter: number | undefined
    while (rejectedAfter === undefined && Date.now() - asked < LIFE_MS + 6_000) {
      await new Promise((resolve) => setTimeout(resolve, TTL_MS / 4)) // the hostile thief's pace
      const reply = await ask(hostile, o, { type: 'renew', leases: [{ taskId: held.id, epoch: 1 }] })
      if (reply.type === 'renewed' && reply.rejected.includes(held.id)) rejectedAfter = Date.now() - asked
    }
    expect(rejectedAfter, 'the owner renewed the lease without bound').toBeDefined()
    expect(rejectedAfter).toBeGreaterThanOrEqual(LIFE_MS)
    expect(rejectedAfter).toBeLessThan(LIFE_MS + 2_000)
    // the owner took it back as from a lost executor, and queued it again
    await waitFor(
      () => o.story(held.id).some((e) => e.event === 'lease-expired'),
      WAIT_MS,
      'the lease never expired at the owner',
    )
    expect(o.story(held.id).find((e) => e.event === 'lease-expired')?.detail).toEqual({ holder: h, epoch: 1 })
    expect(o.status()).toMatchObject({ leasedOut: 0, counters: { leasesExpired: 1, executorsLost: 1 } })
    expect((await o.taskState(held.id)).state).toMatch(/^(queued|unschedulable)$/)

    // an honest thief of another owner (TTL 1 s) runs a task renewed for longer than a TTL, and one
    // that runs to its timeout: each record is its own, none of its leases lost
    const o2 = await TaskmeshNode.create({ slots: 1, leaseTtlMs: 1_000, beaconIntervalMs: 200 })
    nodes.push(o2)
    const l = await TaskmeshNode.create({ slots: 3, labels: ['gpu'], beaconIntervalMs: 200 })
    nodes.push(l)
    const [long, timedOut] = await o2.submitMany([
      sleepSpec(1_500, 'long', { timeoutMs: 3_000, resources: { labels: ['gpu'] } }),
      sleepSpec(5 * TIMEOUT_MS, 'never', {
        timeoutMs: TIMEOUT_MS,
        maxAttempts: 1,
        resources: { labels: ['gpu'] },
      }),
    ])
    await connectAll([o2, l])
    const [longRecord, timedOutRecord] = await waitAll(o2, [long.id, timedOut.id])
    expect(longRecord).toMatchObject({ status: 'succeeded', output: 'long', executor: l.peerId, epoch: 1 })
    expect(timedOutRecord).toMatchObject({ status: 'failed', executor: l.peerId, epoch: 1 })
    expect(timedOutRecord.error).toMatch(/timed out/)
    expect(o2.status().counters).toMatchObject({ leasesExpired: 0, executorsLost: 0 })
  }, 60_000)
})
