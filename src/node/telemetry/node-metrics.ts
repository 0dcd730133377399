import { Counter, collectDefaultMetrics, Registry } from 'prom-client'
import type { NodeStatus } from '../node-status.ts'
import type { TaskEvents } from '../story/task-events.ts'
import { StatusMetrics } from './status-metrics.ts'
import { TaskTimings } from './task-timings.ts'

/** A limit a node enforced by refusing or closing something. */
export type LimitName = 'queue_full' | 'inbound_bytes'

/**
 * One node's Prometheus metrics, in a registry of its own (several nodes may share a process):
 * every name starts with `taskmesh_`. Counters and gauges are copied from the node's status at each
 * scrape ({@link text}); histograms come from its task events and the thief's steal round trips.
 */
export class NodeMetrics {
  readonly registry = new Registry()
  /** The Content-Type of {@link text}: Prometheus' text exposition format. */
  readonly contentType: string = this.registry.contentType
  private readonly timings = new TaskTimings(this.registry)
  private readonly status = new StatusMetrics(this.registry)
  private readonly limits = new Counter({
    name: 'taskmesh_limit_hits_total',
    help: 'Requests refused or streams closed by a limit (queue_full: submissions; inbound_bytes: streams)',
    labelNames: ['limit'],
    registers: [this.registry],
  })
  private read: (() => NodeStatus) | undefined

  /** Takes every task event of `events` into the histograms from now on; returns what stops it. */
  listen(events: Pick<TaskEvents, 'on'>): () => void {
    return events.on((e) => this.timings.observe(e))
  }

  /** Where {@link text} reads the status from (the node, once built). */
  readFrom(read: () => NodeStatus): void {
    this.read = read
  }

  /** Adds the process' metrics (CPU, memory, event loop lag, …; unprefixed, as Prometheus names them). */
  withProcessMetrics(): this {
    collectDefaultMetrics({ register: this.registry })
    return this
  }

  /** One steal request answered after `ms`. */
  stealRoundTrip(ms: number): void {
    this.timings.stealRoundTrip(ms)
  }

  /** A limit refused `count` requests or closed `count` streams. */
  limitHit(limit: LimitName, count = 1): void {
    this.limits.inc({ limit }, count)
  }

  /** The metrics now, in Prometheus' text format. */
  async text(): Promise<string> {
    if (this.read !== undefined) this.status.update(this.read())
    return this.registry.metrics()
  }
}
