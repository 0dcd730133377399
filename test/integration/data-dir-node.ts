import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import type { TaskmeshNodeOptions } from '../../src/node/options.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'

/** A node on a data dir of its own, one test at a time (see {@link nodeOnDataDir}). */
export interface DataDirNode {
  /** The test's data dir, made at the first call (`<tmpdir>/<prefix>…`). */
  dir(): Promise<string>
  /** Starts a node on the test's data dir — again after a stop: a restart on the same disk. */
  start(opts?: Omit<TaskmeshNodeOptions, 'dataDir'>): Promise<TaskmeshNode>
}

/**
 * For every test of the `describe` it is called in: a data dir and the node started on it last,
 * stopped and removed after the test.
 */
export function nodeOnDataDir(prefix: string): DataDirNode {
  let dir: string | undefined
  let node: TaskmeshNode | undefined
  afterEach(async () => {
    await node?.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
    ;[node, dir] = [undefined, undefined]
  })
  const made = async () => {
    dir ??= await mkdtemp(join(tmpdir(), prefix))
    return dir
  }
  return {
    dir: made,
    async start(opts = {}) {
      node = await TaskmeshNode.create({ ...opts, dataDir: await made() })
      return node
    },
  }
}
