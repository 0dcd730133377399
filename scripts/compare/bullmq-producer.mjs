// The BullMQ producer process of the side-by-side benchmark (plain JavaScript: no loader runs here).
//   node bullmq-producer.mjs <redis port>
// Reads one JSON command per stdin line and answers one JSON line on stdout when it is done:
//   {"queue":"q","jobs":[{"name":"noop","data":{}}, …],"batch":500,"inFlight":3}
//     → {"added":n,"sample":[job ids: every sampleEvery-th]} (jobs go in addBulk batches, inFlight at once)
//   {"queue":"q","count":n,"name":"noop","batch":500,"inFlight":3,"sampleEvery":k} — n copies of one job
import { createInterface } from 'node:readline'
import { Queue } from 'bullmq'

const connection = { host: '127.0.0.1', port: Number(process.argv[2]), maxRetriesPerRequest: null }
const queues = new Map()
function queueOf(name) {
  let q = queues.get(name)
  if (q === undefined) {
    q = new Queue(name, { connection })
    queues.set(name, q)
  }
  return q
}

async function run(cmd) {
  const queue = queueOf(cmd.queue)
  await queue.waitUntilReady()
  const jobs = cmd.jobs ?? Array.from({ length: cmd.count }, () => ({ name: cmd.name, data: cmd.data ?? {} }))
  const batches = []
  for (let i = 0; i < jobs.length; i += cmd.batch) batches.push(jobs.slice(i, i + cmd.batch))
  const sample = []
  let next = 0
  const lane = async () => {
    for (let b = next++; b < batches.length; b = next++) {
      const added = await queue.addBulk(batches[b])
      for (const [i, job] of added.entries())
        if ((b * cmd.batch + i) % (cmd.sampleEvery ?? 1) === 0) sample.push(job.id)
    }
  }
  await Promise.all(Array.from({ length: cmd.inFlight ?? 1 }, lane))
  return { added: jobs.length, sample }
}

await Promise.all([...queues.values()].map((q) => q.waitUntilReady()))
console.log('ready')
for await (const line of createInterface({ input: process.stdin })) {
  try {
    console.log(JSON.stringify(await run(JSON.parse(line))))
  } catch (err) {
    console.log(JSON.stringify({ error: err.message }))
  }
}
await Promise.all([...queues.values()].map((q) => q.close()))
