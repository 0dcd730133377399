import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { connectAll } from '../../src/simulation/mesh.ts'
import { stopAll, waitFor } from './helpers.ts'

describe('lease guards at the node', () => {
  let nodes: TaskmeshNode[] = []

  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
  })

  it('a stolen task cancelled during its retry backoff is neither queued nor run again', async () => {
    // a thief hands a failed attempt back to the owner, which retries it after its backoff, where
    // any node may steal it: here ~5 s (full jitter at 0.99 of 5 s), time for the cancel (a local
    // call, ms after the retry is seen) even on a loaded machine
    const owner = await TaskmeshNode.create({
      slots: 1,
      beaconIntervalMs: 250,
      leaseTtlMs: 1_500,
      backoff: { baseMs: 5_000, capMs: 5_000 },
      random: () => 0.99,
    })
    nodes.push(owner)
    const thief = await TaskmeshNode.create({ slots: 1, labels: ['gpu'], beaconIntervalMs: 250 })
    nodes.push(thief)
    await connectAll([owner, thief])
    await thief.waitForPeers(1)
    const [handle] = await owner.submitMany([
      { type: 'fail', input: { message: 'flaky' }, maxAttempts: 3, resources: { labels: ['gpu'] } },
    ])
    await waitFor(() => owner.status().counters.retried === 1, 10_000, 'the owner never took the retry back')
    const failedAt = performance.now()
    expect(thief.status().counters.executed).toBe(1)
    expect(thief.status().leasedIn).toBe(0) // handed back with its attempt
    expect((await owner.cancel(handle.id)).outcome).toBe('cancelled')
    await new Promise((resolve) => setTimeout(resolve, 5_100 - (performance.now() - failedAt))) // past the backoff
    expect(owner.status().queued).toBe(0)
    expect(thief.status().queued).toBe(0)
    expect(thief.status().counters.executed).toBe(1)
    const record = await owner.getResult(handle.id)
    expect(record?.error).toBe('cancelled')
    expect(record?.attempts.filter((a) => a.cut === undefined)).toHaveLength(1) // the thief's one run
  }, 60_000)

  it('waitForPeers with a signal aborted already rejects at once (unless enough peers are known)', async () => {
    const alone = await TaskmeshNode.create({ slots: 1 })
    nodes.push(alone)
    await expect(alone.waitForPeers(1, AbortSignal.abort())).rejects.toThrow(/heard 0 of 1 peers/)
    await expect(alone.waitForPeers(0, AbortSignal.abort())).resolves.toBeUndefined()
  })
})
