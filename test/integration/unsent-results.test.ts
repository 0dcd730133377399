import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { deadline, identity, stopAll, WAIT_MS, waitFor } from './helpers.ts'

let nodes: TaskmeshNode[] = []
const dirs: string[] = []

afterEach(async () => {
  await stopAll(nodes)
  nodes = []
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

describe('a result held on one disk alone reaches the mesh after its node restarts', () => {
  it('results made alone go to the peers of the next life, and outlive the node', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'taskmesh-unsent-'))
    dirs.push(dataDir)
    const alone = await TaskmeshNode.create({ dataDir, slots: 1 })
    nodes = [alone]
    const handles = await Promise.all(['one', 'two'].map((input) => alone.submit({ type: 'echo', input })))
    const made = await Promise.all(handles.map((h) => alone.waitResult(h.id, deadline())))
    // no peer took a copy, and no one heard the notices: both results live on this disk only
    expect(alone.status().unsentResults).toBe(2)
    await alone.stop()

    const mesh = await startLocalMesh({ nodes: 2, slots: 1 })
    nodes.push(...mesh)
    const again = await TaskmeshNode.create({ dataDir, slots: 1, bootstrap: mesh[0].multiaddrs })
    nodes.push(again)
    expect(again.status().unsentResults).toBe(2)
    await waitFor(
      () => again.status().unsentResults === 0,
      WAIT_MS,
      'the copies and notices of the results made alone did not go out',
    )
    await again.stop()
    // the node is gone for good: its peers serve what it made while it was alone
    for (const node of mesh) {
      for (const [i, h] of handles.entries()) {
        expect(identity(await node.waitResult(h.id, deadline(10_000)))).toEqual(identity(made[i]))
      }
    }
  })
})
