/**
 * A taskmesh node in a process of its own, for the flood test: the test measures this process's
 * memory alone (the attackers' buffers live in the test's process). Driven over the IPC channel:
 * `{ type: 'memory' }` → retained memory after a full GC; `{ type: 'inbound' }` → `status().inbound`; `{ type: 'submit', specs }` → ids;
 * `{ type: 'results', ids }` → each record's executor once all landed; `{ type: 'stop' }`.
 * Options come as JSON in TASKMESH_VICTIM_OPTIONS. Run with `--expose-gc --import tsx`.
 */
import '../../src/polyfill.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run the victim with --expose-gc')
if (process.send === undefined) throw new Error('run the victim with an IPC channel')
const send = (msg: object) => process.send?.(msg)

const node = await TaskmeshNode.create(JSON.parse(process.env.TASKMESH_VICTIM_OPTIONS ?? '{}'))

/** Heap and off-heap memory (buffers) still referenced after a full collection, in bytes. */
function retained(): number {
  gc?.()
  gc?.()
  const m = process.memoryUsage()
  return m.heapUsed + m.external
}

process.on('message', (msg: { type: string; specs?: unknown[]; ids?: string[] }) => {
  void (async () => {
    try {
      if (msg.type === 'inbound') send({ type: 'inbound', ...node.status().inbound })
      else if (msg.type === 'memory')
        send({ type: 'memory', bytes: retained(), rss: process.memoryUsage().rss })
      else if (msg.type === 'submit') {
        const handles = await node.submitMany(msg.specs ?? [])
        send({ type: 'submitted', ids: handles.map((h) => h.id) })
      } else if (msg.type === 'results') {
        const signal = AbortSignal.timeout(30_000)
        const records = await Promise.all((msg.ids ?? []).map((id) => node.waitResult(id, signal)))
        send({ type: 'results', executors: records.map((r) => r.executor) })
      } else if (msg.type === 'stop') {
        await node.stop()
        process.exit(0)
      }
    } catch (err) {
      send({ type: 'error', message: (err as Error).message })
    }
  })()
})

send({ type: 'ready', peerId: node.peerId, multiaddrs: node.multiaddrs })
