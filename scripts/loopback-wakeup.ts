/**
 * What one message between two processes costs on this machine, beneath any protocol: a TCP
 * ping-pong on 127.0.0.1 between this process and a child that echoes, one message at a time with
 * the peer idle in between (as a mesh's messages find their receivers while a task hops), against
 * the same writes to a peer that is busy reading already (in this process). Prints the time spent
 * inside `socket.write()` (the writer wakes the sleeping reader: on a virtual machine that is a
 * cross-CPU interrupt) and the round trip.
 *
 *   npx tsx scripts/loopback-wakeup.ts [--samples 500] [--bytes 250]
 *
 * A one-hop submission crosses processes six times (client → owner, owner's beacon → thief, steal,
 * grant, completion, owner → client) and each daemon writes several more frames to other peers
 * (custody, beacons): this bounds what any protocol could do on the machine.
 */
import { fork } from 'node:child_process'
import { createConnection, createServer, type Socket } from 'node:net'
import { parseArgs } from 'node:util'
import { quantile } from '../src/simulation/random.ts'

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '500' },
    bytes: { type: 'string', default: '250' },
    child: { type: 'boolean', default: false },
  },
})
const samples = Number(values.samples)
const bytes = Number(values.bytes)
if (!Number.isInteger(samples) || samples < 10)
  throw new Error(`--samples: a whole number >= 10, got ${values.samples}`)
if (!Number.isInteger(bytes) || bytes < 1 || bytes > 65_536)
  throw new Error(`--bytes: 1 to 65536, got ${values.bytes}`)

const micros = (from: bigint) => Number(process.hrtime.bigint() - from) / 1_000
const fmt = (xs: number[]) =>
  `p50 ${quantile(xs, 0.5).toFixed(1)} µs, p90 ${quantile(xs, 0.9).toFixed(1)} µs, mean ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1)} µs`

/** An echo server on a free port; tells its parent the port. */
function echo(): void {
  const server = createServer((s) => {
    s.setNoDelay(true)
    s.on('data', (d) => s.write(d))
  })
  server.listen(0, '127.0.0.1', () => {
    const address = server.address()
    process.send?.(typeof address === 'object' && address !== null ? address.port : 0)
  })
}

function connect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1', noDelay: true }, () => resolve(socket))
    socket.once('error', reject)
  })
}

/** Writes to an idle echoing process, one message at a time, 2 ms apart. */
async function idlePeer(port: number): Promise<{ write: number[]; roundTrip: number[] }> {
  const socket = await connect(port)
  const message = Buffer.alloc(bytes, 7)
  const write: number[] = []
  const roundTrip: number[] = []
  for (let i = 0; i < samples + 50; i++) {
    const back = new Promise<void>((resolve) => socket.once('data', () => resolve()))
    const t0 = process.hrtime.bigint()
    socket.write(message)
    const wrote = micros(t0)
    await back
    const rt = micros(t0)
    if (i >= 50) {
      write.push(wrote)
      roundTrip.push(rt)
    }
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  socket.destroy()
  return { write, roundTrip }
}

/** Writes to a reader in this process, back to back: no sleeping peer to wake. */
async function busyPeer(): Promise<number[]> {
  const server = createServer((s) => s.resume())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const socket = await connect(typeof address === 'object' && address !== null ? address.port : 0)
  const message = Buffer.alloc(bytes, 7)
  const write: number[] = []
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint()
    socket.write(message)
    write.push(micros(t0))
  }
  socket.destroy()
  server.close()
  return write
}

if (values.child) echo()
else {
  const child = fork(import.meta.filename, ['--child'], { execArgv: process.execArgv })
  const port = await new Promise<number>((resolve) => child.once('message', (p) => resolve(Number(p))))
  try {
    const idle = await idlePeer(port)
    const busy = await busyPeer()
    console.log(`${samples} messages of ${bytes} bytes on 127.0.0.1`)
    console.log(`write() to an idle process:      ${fmt(idle.write)}`)
    console.log(`round trip through an idle echo: ${fmt(idle.roundTrip)}`)
    console.log(`write() with no reader to wake:  ${fmt(busy)}`)
  } finally {
    child.kill()
  }
}
