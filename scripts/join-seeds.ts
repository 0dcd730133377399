/**
 * Joining through the same few seeds: N nodes over TCP on 127.0.0.1 (default options: a limit of
 * 32 connections), each bootstrapped to the first three, watched for a minute; then a newcomer
 * given the first node alone. Prints the connections over time, and how many nodes are isolated.
 *
 *   npx tsx scripts/join-seeds.ts [nodes = 48]
 */
import '../src/polyfill.ts'
import { TaskmeshNode } from '../src/node/taskmesh-node.ts'

const N = Number(process.argv[2] ?? 48)
/** `MAXC=<n>`: another connection limit. */
const max = process.env.MAXC ? Number(process.env.MAXC) : undefined
const nodes: TaskmeshNode[] = []
for (let i = 0; i < N; i++) {
  const bootstrap = nodes.slice(0, 3).map((n) => n.multiaddrs[0])
  nodes.push(
    await TaskmeshNode.create({
      slots: 2,
      bootstrap,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      ...(max ? { maxConnections: max } : {}),
    }),
  )
}
for (let t = 1; t <= Number(process.env.TICKS ?? 4); t++) {
  await new Promise((r) => setTimeout(r, 15_000))
  const cc = nodes.map((n) => n.libp2p.getConnections().length)
  console.log(
    `${t * 15}s max ${Math.max(...cc)} avg ${(cc.reduce((a, b) => a + b, 0) / N).toFixed(1)} over-32 ${cc.filter((x) => x > 32).length} isolated ${cc.filter((x) => x === 0).length} trimmed so far ${nodes.reduce((a, n) => a + n.status().connections.trimmed, 0)}`,
  )
}
const late = await TaskmeshNode.create({
  slots: 2,
  bootstrap: [nodes[0].multiaddrs[0]],
  listen: ['/ip4/127.0.0.1/tcp/0'],
} as never)
await new Promise((r) => setTimeout(r, 5000))
console.log(
  'newcomer via node 0 alone:',
  late.libp2p.getConnections().length,
  'connections,',
  late.status().peers.length,
  'peers heard',
)
nodes.push(late)
const c = nodes.map((n) => n.libp2p.getConnections().length)
const p = nodes.map((n) => n.status().peers.length)
console.log('connections', c.join(' '))
console.log('peers heard', p.join(' '))
const trimmed = nodes.map((n) => n.status().connections.trimmed)
console.log('connections trimmed per node (seeds first):', trimmed.join(' '))
console.log('isolated (0 connections):', c.filter((x) => x === 0).length, 'of', N)
await Promise.all(nodes.map((n) => n.stop()))
process.exit(0)
