import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Queue, QueueEvents } from 'bullmq'
import { Redis } from 'ioredis'
import { type Child, startChild } from './processes.ts'
import type { RedisServer } from './redis.ts'

const HERE = import.meta.dirname

/** The installed BullMQ version. */
export const BULLMQ_VERSION = (
  JSON.parse(readFileSync(resolve(HERE, '../../node_modules/bullmq/package.json'), 'utf8')) as {
    version: string
  }
).version

/** A job as the producer adds it. */
export interface JobSpec {
  name: string
  data: Record<string, unknown>
}

/** What the producer answers for one command. */
interface Added {
  added: number
  sample: string[]
  error?: string
}

/**
 * The BullMQ side: worker processes and one producer process on the benchmark's redis-server, and a
 * `Queue` in this process to read counts and jobs back.
 */
export class BullSide {
  private constructor(
    readonly redis: RedisServer,
    readonly workers: Child[],
    readonly producer: Child,
    readonly queue: Queue,
    private readonly log: (line: string) => void,
  ) {}

  /** Starts `workers` worker processes of `concurrency` each on `queueName`, and the producer. */
  static async start(
    redis: RedisServer,
    queueName: string,
    workers: number,
    concurrency: number,
    kind: 'noop' | 'sleep',
    log: (line: string) => void,
  ): Promise<BullSide> {
    const node = (name: string, file: string, args: string[]) =>
      startChild(name, process.execPath, [join(HERE, file), ...args], log)
    const started: Child[] = []
    try {
      for (let i = 0; i < workers; i++) {
        const name = `bullmq-worker-${i}`
        started.push(
          node(name, 'bullmq-worker.mjs', [String(redis.port), queueName, String(concurrency), kind, name]),
        )
      }
      const producer = node('bullmq-producer', 'bullmq-producer.mjs', [String(redis.port)])
      started.push(producer)
      await Promise.all(started.map((c) => c.waitForLine((l) => l === 'ready', 30_000)))
      const queue = new Queue(queueName, {
        connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null },
      })
      await queue.waitUntilReady()
      return new BullSide(redis, started.slice(0, workers), producer, queue, log)
    } catch (err) {
      await Promise.all(started.map((c) => c.stop(2_000)))
      throw err
    }
  }

  /** The pids whose CPU counts as the system's: workers, producer, redis-server. */
  get pids(): Record<string, number> {
    return Object.fromEntries([...this.workers, this.producer, this.redis.child].map((c) => [c.name, c.pid]))
  }

  /** Has the producer add `jobs` (addBulk batches of `batch`, `inFlight` at once); a sample of their ids. */
  async add(
    jobs: JobSpec[] | { count: number; name: string },
    batch: number,
    inFlight: number,
    sampleEvery = 1,
  ): Promise<string[]> {
    const cmd = Array.isArray(jobs)
      ? { queue: this.queue.name, jobs, batch, inFlight, sampleEvery }
      : { queue: this.queue.name, ...jobs, batch, inFlight, sampleEvery }
    const answered = this.producer.waitForLine((l) => l.startsWith('{'), 600_000, this.producer.lineCount)
    this.producer.proc.stdin?.write(`${JSON.stringify(cmd)}\n`)
    const reply = JSON.parse(await answered) as Added
    if (reply.error !== undefined) throw new Error(`bullmq producer: ${reply.error}`)
    return reply.sample
  }

  /** Jobs completed in the queue so far. */
  async completed(): Promise<number> {
    return (await this.queue.getJobCounts('completed')).completed ?? 0
  }

  /** A `QueueEvents` on this side's queue (the subscriber of the latency runs). */
  async events(): Promise<QueueEvents> {
    // read on from the stream's last entry now: with the default (`$`) an event written before the
    // subscriber's first XREAD is missed, and the first latency job can complete that fast
    const client = new Redis({ host: '127.0.0.1', port: this.redis.port })
    const last = await client
      .xrevrange(this.queue.keys.events, '+', '-', 'COUNT', 1)
      .finally(() => client.quit())
    const events = new QueueEvents(this.queue.name, {
      connection: { host: '127.0.0.1', port: this.redis.port, maxRetriesPerRequest: null },
      lastEventId: last[0]?.[0] ?? '0-0',
    })
    await events.waitUntilReady()
    return events
  }

  /** Stops the workers and the producer (not redis). */
  async stop(): Promise<void> {
    this.producer.proc.stdin?.end()
    await this.queue.close().catch((err: Error) => this.log(`queue close: ${err.message}`))
    await Promise.all([...this.workers, this.producer].map((c) => c.stop(10_000)))
  }
}
