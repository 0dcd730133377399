import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { KEEP_MIN_CONNECTIONS } from '../../src/node/peers/bootstrap-keeper.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { stopAll, WAIT_MS } from './helpers.ts'

const listen = ['/ip4/127.0.0.1/tcp/0']

/** Resolves once `node` hears the beacons of `count` peers; fails after WAIT_MS. */
const hears = (node: TaskmeshNode, count: number) => node.waitForPeers(count, AbortSignal.timeout(WAIT_MS))

describe('a seed restarts', () => {
  let nodes: TaskmeshNode[] = []
  let dir: string | undefined
  afterEach(async () => {
    await stopAll(nodes)
    nodes = []
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('with no bootstrap list, on a new port: it dials the peers it knew, which no longer dial it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'taskmesh-seed-'))
    const seed = await TaskmeshNode.create({ slots: 1, dataDir: dir, listen })
    const others = []
    for (let i = 0; i <= KEEP_MIN_CONNECTIONS; i++) {
      others.push(await TaskmeshNode.create({ slots: 1, bootstrap: [seed.multiaddrs[0]], listen }))
    }
    nodes = [seed, ...others]
    await hears(seed, others.length)
    // each of them is in the mesh: its keeper will not dial the seed again
    await Promise.all(others.map((o) => hears(o, KEEP_MIN_CONNECTIONS)))
    await seed.stop()

    const again = await TaskmeshNode.create({ slots: 1, dataDir: dir, listen })
    nodes = [again, ...others]
    expect(again.peerId).toBe(seed.peerId)
    await hears(again, others.length)
  })
})
