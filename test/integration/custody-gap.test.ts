import { afterEach, describe, expect, it } from 'vitest'
import { successorOf } from '../../src/node/recovery/successor.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import type { CustodyService } from '../../src/node/wire/custody-service.ts'
import { connectAll, waitForMesh } from '../../src/simulation/mesh.ts'
import { makeTask } from '../protocol/fixtures.ts'
import { stopAll, WAIT_MS, waitAll, waitFor } from './helpers.ts'

/**
 * An owner died while a `hold` was on its way to one of its custodians: the other custodian holds
 * its tasks with a list naming both, the named one holds none. Every task must still be adopted
 * and run — the custodian that holds them asks the successor its list names before leaving it a
 * task, and adopts what that successor does not know.
 */

const BEACON_MS = 200
const DETECTION_MS = 3 * BEACON_MS + 600
/** The fixture tasks ask for the `cpu` label. */
const common = { slots: 2, labels: ['cpu'], beaconIntervalMs: BEACON_MS, failureDetectionMs: DETECTION_MS }

describe('custody when a hold did not reach every custodian', () => {
  let nodes: TaskmeshNode[] = []
  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('the custodian holding the tasks adopts the share of a named custodian that never got them', async () => {
    nodes = await Promise.all(Array.from({ length: 3 }, () => TaskmeshNode.create(common)))
    const [owner, holder, named] = nodes
    await connectAll(nodes)
    await waitForMesh(nodes)
    const tasks = Array.from({ length: 16 }, (_, n) => makeTask(700 + n, owner.peerId))
    const theirs = tasks.filter((t) => successorOf(t.id, [holder.peerId, named.peerId]) === named.peerId)
    expect(theirs.length).toBeGreaterThan(0)
    // the owner's hold reached `holder` only (a real custody frame, sent as the owner sends it)
    const { custody } = (owner as unknown as { parts: { custody: CustodyService } }).parts
    const custodians = [holder, named].map((n) => ({ peerId: n.peerId, addrs: n.multiaddrs.slice(0, 1) }))
    await custody.request(holder.peerId, { type: 'hold', requestId: 'gap', custodians, tasks })
    expect(holder.status().custody.guarded).toBe(tasks.length)
    expect(named.status().custody.guarded).toBe(0)

    await owner.libp2p.stop() // the owner dies
    await waitFor(
      () => holder.status().counters.adopted === tasks.length,
      WAIT_MS,
      () =>
        `holder adopted ${holder.status().counters.adopted} of ${tasks.length} (${theirs.length} left to the named one)`,
    )
    expect(named.status().counters.adopted).toBe(0)
    // and they run: every result is there
    const records = await waitAll(
      holder,
      tasks.map((t) => t.id),
    )
    expect(records.map((r) => r.status)).toEqual(tasks.map(() => 'succeeded'))
  })
})
