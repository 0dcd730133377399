import { defineConfig } from 'vitest/config'
import { BaseSequencer, type TestSpecification } from 'vitest/node'

/**
 * Files that take the longest (daemons as child processes, chaos, packing and installing the
 * package): started first, so none is a lone tail.
 */
const LONG_FIRST = [
  'test/chaos/chaos.test.ts',
  'test/cli/daemon.test.ts',
  'test/package/',
  'test/chaos/',
  'test/cli/',
]

/**
 * CPU-bound meshes in one process (20 nodes sharing its event loop): started last, when the other
 * worker runs the short files that are left, not beside the chaos run's 4 daemons.
 */
const CPU_BOUND_LAST = ['test/integration/bounded-mesh.test.ts']

/** The default order (cached durations, else file size), with the known long files first. */
class LongFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files)
    const rank = (f: TestSpecification) => {
      if (CPU_BOUND_LAST.some((p) => f.moduleId.includes(p))) return LONG_FIRST.length + 1
      const i = LONG_FIRST.findIndex((p) => f.moduleId.includes(p))
      return i === -1 ? LONG_FIRST.length : i
    }
    return sorted
      .map((f, i) => ({ f, i }))
      .sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i)
      .map(({ f }) => f)
  }
}

export default defineConfig({
  test: {
    setupFiles: ['./src/polyfill.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // each worker imports libp2p and the node once, not once per file: importing took ~1.1 s per
    // file (about 190 s of worker time in a 333 s run of 175 files; 16 s without isolation)
    isolate: false,
    // most files wait on timers and sockets, not the CPU: two at once on 2 cores (the default is cores − 1)
    maxWorkers: 2,
    sequence: { sequencer: LongFirstSequencer },
  },
})
