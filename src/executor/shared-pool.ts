import { WorkerPool, type WorkerPoolOptions } from './worker-pool.ts'

/** A reference to the process-wide pool for one set of modules; `release` it once. */
export interface SharedPoolLease {
  readonly pool: WorkerPool
  /** Drops this reference; the pool closes when the last one is released. Safe twice. */
  release(): Promise<void>
}

interface Entry {
  pool: WorkerPool
  refs: number
}

const shared = new Map<string, Entry>()

/**
 * The process-wide {@link WorkerPool} for `opts.modules`, created on first use and shared by
 * every caller asking for the same modules (in the same order), so N nodes simulated in one
 * process share one set of threads. Other options only apply when the pool is created.
 * Executors built without a `pool` use this.
 */
export function acquireSharedWorkerPool(opts: WorkerPoolOptions): SharedPoolLease {
  const key = JSON.stringify(opts.modules)
  let entry = shared.get(key)
  if (entry === undefined) {
    entry = { pool: new WorkerPool(opts), refs: 0 }
    shared.set(key, entry)
  }
  entry.refs++
  const held = entry
  let released = false
  return {
    pool: held.pool,
    async release() {
      if (released) return
      released = true
      if (--held.refs > 0) return
      if (shared.get(key) === held) shared.delete(key)
      await held.pool.close()
    },
  }
}
