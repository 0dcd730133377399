/**
 * Entry of a node thread: builds the TaskmeshNodes `workerData` lists (one, or several sharing this
 * thread's event loop), answers the simulation's commands for each (see `thread-protocol.ts`) and
 * posts their results back in batches.
 */
import '../polyfill.ts'
import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import { parentPort, threadId, workerData } from 'node:worker_threads'
import { TaskmeshNode } from '../node/taskmesh-node.ts'
import { LocalSimNode, type SimResult } from './sim-node.ts'
import type { NodeCommand, NodeEvent, NodeThreadData } from './thread-protocol.ts'

/**
 * Results are posted to the simulation at most this often, ms (one message for many). Each result
 * carries when it landed, so the window delays no figure; each post wakes the simulation's thread,
 * which takes a core from the nodes' loops for a moment.
 */
const POST_WINDOW_MS = 20

const port = parentPort
if (port === null) throw new Error('node-thread.ts runs as a worker thread')
const post = (event: NodeEvent) => port.postMessage(event)

const { options } = workerData as NodeThreadData

/** With TASKMESH_PROFILE_DIR set, the thread records a CPU profile of its node's whole life. */
const profileDir = process.env.TASKMESH_PROFILE_DIR
const profiler = profileDir === undefined ? undefined : new Session()
if (profiler !== undefined) {
  profiler.connect()
  await profiler.post('Profiler.enable')
  await profiler.post('Profiler.start')
}

/** Writes the thread's profile as `<dir>/node-<thread id>.cpuprofile`. */
async function saveProfile(): Promise<void> {
  if (profiler === undefined || profileDir === undefined) return
  const { profile } = await profiler.post('Profiler.stop')
  await writeFile(join(profileDir, `node-${threadId}.cpuprofile`), JSON.stringify(profile))
}

let sims: LocalSimNode[]
try {
  sims = (await Promise.all(options.map((o) => TaskmeshNode.create(o)))).map((n) => new LocalSimNode(n))
} catch (err) {
  post({ type: 'fatal', message: (err as Error).message })
  throw err
}

/** Results of each node not posted yet. */
const pending = sims.map((): SimResult[] => [])
const onResultOf = (node: number) => (result: SimResult) => {
  pending[node].push(result)
  if (pending[node].length > 1) return // a post is scheduled already
  setTimeout(() => {
    const results = pending[node]
    pending[node] = []
    post({ type: 'results', node, results })
  }, POST_WINDOW_MS)
}

/** Nodes of this thread not stopped yet: the profile is saved when the last one stops. */
let running = sims.length

async function run(cmd: NodeCommand): Promise<NodeEvent> {
  const sim = sims[cmd.node]
  if (sim === undefined) throw new Error(`this thread has no node ${cmd.node}`)
  switch (cmd.op) {
    case 'dial':
      await sim.dial(cmd.addrs)
      return { type: 'reply', call: cmd.call }
    case 'waitForPeers':
      await sim.waitForPeers(cmd.count, cmd.timeoutMs)
      return { type: 'reply', call: cmd.call }
    case 'submit':
      return { type: 'reply', call: cmd.call, value: await sim.submit(cmd.specs, onResultOf(cmd.node)) }
    case 'counters':
      return { type: 'reply', call: cmd.call, value: await sim.counters() }
    case 'sample':
      return { type: 'reply', call: cmd.call, value: await sim.sample() }
    case 'accounting':
      return { type: 'reply', call: cmd.call, value: await sim.accounting() }
    case 'flushResults':
      await sim.flushResults()
      return { type: 'reply', call: cmd.call }
    case 'countInDht':
      return { type: 'reply', call: cmd.call, value: await sim.countInDht(cmd.ids) }
    case 'startLoopMeter':
      await sim.startLoopMeter()
      return { type: 'reply', call: cmd.call }
    case 'loopStats':
      return { type: 'reply', call: cmd.call, value: await sim.loopStats() }
    case 'stop':
      await sim.stop()
      if (--running === 0) await saveProfile()
      return { type: 'reply', call: cmd.call }
  }
}

port.on('message', (cmd: NodeCommand) => {
  run(cmd).then(post, (err: Error) => post({ type: 'failed', call: cmd.call, message: err.message }))
})
post({
  type: 'ready',
  nodes: sims.map((sim) => ({ peerId: sim.peerId, multiaddrs: sim.multiaddrs, slots: sim.slots })),
})
