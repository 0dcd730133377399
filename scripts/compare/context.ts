import type { RedisServer } from './redis.ts'

/** What every workload of the comparison gets. */
export interface CompareContext {
  quick: boolean
  /** A scratch directory for data dirs, removed after the run. */
  dir: string
  /** The swarm key file every benchmark daemon shares. */
  swarmKey: string
  redis: RedisServer
  /** Write V8 CPU profiles of the daemons of the no-op run here. */
  profileDir?: string
  /** BullMQ worker concurrency of the no-op run. */
  bullConcurrency: number
  log(line: string): void
}

/** A latency sample set: p50 and p99 in ms, and how many samples. */
export interface Latency {
  p50: number
  p99: number
  samples: number
}
