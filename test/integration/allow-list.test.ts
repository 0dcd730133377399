import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { connectAll, waitForMesh } from '../../src/simulation/mesh.ts'
import { stopAll, WAIT_MS, waitAll, waitFor } from './helpers.ts'

/**
 * A peer refused at `submit` must get no further by owning tasks itself: with an allow-list, a
 * node steals from, guards (takes custody of) and adopts the tasks of the listed peers only.
 *
 * A and B list each other and C. R (refused: on no list) and C (listed) are full nodes that own
 * tasks they cannot run themselves (they need the `gpu` label, which only A and B offer): A and B
 * steal C's and run them, never R's. Then R and C own tasks no one can run and leave the mesh at
 * once: C's are adopted (one sweep of the same dead peers), R's are not — A and B refused custody of
 * them (`ERR_NOT_ALLOWED`).
 */

const BEACON_MS = 200
const DETECTION_MS = 3 * BEACON_MS + 600

const keys: Record<'a' | 'b' | 'c' | 'r', PrivateKey> = {
  a: await generateKeyPair('Ed25519'),
  b: await generateKeyPair('Ed25519'),
  c: await generateKeyPair('Ed25519'),
  r: await generateKeyPair('Ed25519'),
}
const id = (k: keyof typeof keys) => peerIdFromPrivateKey(keys[k]).toString()

let a: TaskmeshNode
let b: TaskmeshNode
let c: TaskmeshNode
let r: TaskmeshNode

const common = { slots: 2, beaconIntervalMs: BEACON_MS, failureDetectionMs: DETECTION_MS }
/** Tasks of other owners that A and B guard (hold the specs of, for adoption). */
const guarded = () => a.status().custody.guarded + b.status().custody.guarded

const gpu = (n: number, label = 'gpu') => ({ type: 'echo', input: n, resources: { labels: [label] } })

beforeAll(async () => {
  ;[a, b, c, r] = await Promise.all([
    TaskmeshNode.create({
      ...common,
      privateKey: keys.a,
      labels: ['gpu'],
      allowSubmitters: [id('b'), id('c')],
    }),
    TaskmeshNode.create({
      ...common,
      privateKey: keys.b,
      labels: ['gpu'],
      allowSubmitters: [id('a'), id('c')],
    }),
    TaskmeshNode.create({ ...common, privateKey: keys.c }),
    TaskmeshNode.create({ ...common, privateKey: keys.r }),
  ])
  await connectAll([a, b, c, r])
  await waitForMesh([a, b, c, r])
})

afterAll(() => stopAll([a, b, c, r]))

describe('an allow-list names every owner whose tasks a node takes', () => {
  it("steals only the listed owners' tasks, and guards only theirs", async () => {
    const listed = await c.submitMany([gpu(1), gpu(2), gpu(3)])
    const refused = await r.submitMany([gpu(4), gpu(5), gpu(6)])
    // C's tasks are stolen and run at A or B
    const records = await waitAll(
      c,
      listed.map((h) => h.id),
    )
    expect(records.map((rec) => rec.executor).every((e) => e === a.peerId || e === b.peerId)).toBe(true)
    // R offered its tasks to A and B (idle, with the label), which refused the offers whole: once
    // their answers are in, R's are still queued at R, with nobody able to run them, and A and B
    // know nothing of them
    await waitFor(() => r.status().leasedOut === 0, WAIT_MS, 'R never took its offered tasks back')
    for (const h of refused) {
      expect(await r.taskState(h.id)).toMatchObject({
        state: expect.stringMatching(/^(queued|unschedulable)$/),
      })
      for (const node of [a, b]) {
        expect(await node.taskState(h.id, { forwarded: true })).toEqual({ state: 'unknown' }) // what it knows itself
        expect(node.story(h.id)).toEqual([])
      }
    }
    // R's full queue was in view the whole time, and stolen from by no one (an offer refused whole
    // grants nothing)
    expect(r.status().counters.tasksGranted).toBe(0)
  })

  it("adopts a dead listed owner's tasks, and nothing of a refused one's", async () => {
    // custody of every task is asked of A and B before its owner leaves (what they make of it is the test)
    // the tasks of the first test ended: their custodians forgot them
    await waitFor(
      () => guarded() === 0,
      WAIT_MS,
      () => `A and B still guard ${guarded()} tasks`,
    )
    const listed = await c.submitMany([gpu(7, 'nowhere'), gpu(8, 'nowhere')])
    const refused = await r.submitMany([gpu(9, 'nowhere'), gpu(10, 'nowhere')])
    const guardians = [a, b].filter((n) => c.status().custody.custodians.includes(n.peerId))
    expect(guardians.length).toBeGreaterThan(0) // C's custodians are two of A, B and R
    await waitFor(
      () => guarded() === guardians.length * listed.length,
      WAIT_MS,
      "C's tasks were never guarded",
    )
    // R asks again after each refusal: A and B refuse every time, and guard nothing of R's
    await waitFor(() => r.status().custody.custodians.length > 0, WAIT_MS, 'R never chose custodians')
    const adopted = () => a.status().counters.adopted + b.status().counters.adopted
    expect(adopted()).toBe(0)
    // both owners leave at once; the nodes sweep every dead owner's orphans together
    await Promise.all([c.stop(), r.stop()])
    await waitFor(
      () => adopted() >= listed.length,
      WAIT_MS + DETECTION_MS,
      () => `adopted ${adopted()} of C's`,
    )
    const ownedNow = async (taskId: string) =>
      (await Promise.all([a, b].map((n) => n.taskState(taskId, { forwarded: true })))).map((s) => s.state)
    for (const h of listed) {
      const held = (await ownedNow(h.id)).filter((s) => s === 'queued' || s === 'unschedulable')
      expect(held, `one adopter of ${h.id}`).toHaveLength(1)
    }
    expect(adopted()).toBe(listed.length)
    for (const h of refused) {
      expect(await ownedNow(h.id)).toEqual(['unknown', 'unknown'])
      expect([...a.story(h.id), ...b.story(h.id)]).toEqual([])
    }
  })
})
