// A BullMQ worker process of the side-by-side benchmark (plain JavaScript: no loader runs here).
//   node bullmq-worker.mjs <redis port> <queue> <concurrency> <noop|sleep> <worker name>
// Prints "ready" once connected; SIGTERM closes the worker and exits.
import { setTimeout as sleep } from 'node:timers/promises'
import { Worker } from 'bullmq'

const [port, queue, concurrency, kind, name] = process.argv.slice(2)
const processors = {
  noop: async () => null,
  sleep: async (job) => {
    await sleep(job.data.ms)
    return null
  },
}
const processor = processors[kind]
if (processor === undefined) throw new Error(`processor must be noop or sleep, got ${kind}`)
const worker = new Worker(queue, processor, {
  connection: { host: '127.0.0.1', port: Number(port), maxRetriesPerRequest: null },
  concurrency: Number(concurrency),
  name, // stored on every job it processes (processedBy)
})
worker.on('error', (err) => console.error(`worker error: ${err.message}`))
await worker.waitUntilReady()
console.log('ready')
process.on('SIGTERM', () => {
  worker.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
})
