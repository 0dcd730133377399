import { setMaxListeners } from 'node:events'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { type Identify, identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { TaskEvent } from '../../src/node/story/task-events.ts'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import type { TaskSpecInput } from '../../src/task/spec.ts'

/** Longest any single integration wait may take before the test fails with a message. */
export const WAIT_MS = 20_000

/**
 * Polls `predicate` (at most every 20 ms) until it holds; rejects with `message` after
 * `timeoutMs`. For "eventually" conditions that have no event to await — use sparingly.
 */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs: number,
  message: string | (() => string),
): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!predicate()) {
    if (performance.now() >= deadline) {
      throw new Error(`waitFor: ${typeof message === 'string' ? message : message()} (after ${timeoutMs} ms)`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A `sleep` task spec: resolves with `output` after `ms`. */
export function sleepSpec(
  ms: number,
  output: number | string | null = null,
  extra: Partial<TaskSpecInput> = {},
) {
  return { type: 'sleep', input: { ms, output }, ...extra } satisfies TaskSpecInput
}

/** A timeout signal meant to be shared by many waits (no max-listeners warning). */
export function deadline(timeoutMs = WAIT_MS): AbortSignal {
  const signal = AbortSignal.timeout(timeoutMs)
  setMaxListeners(Number.POSITIVE_INFINITY, signal)
  return signal
}

/** Waits for every id's result at `node` (resolves in id order), failing after `timeoutMs`. */
export function waitAll(node: TaskmeshNode, ids: string[], timeoutMs = WAIT_MS): Promise<ResultRecord[]> {
  const signal = deadline(timeoutMs)
  return Promise.all(ids.map((id) => node.waitResult(id, signal)))
}

/** Stops every node, also ones stopped (or crashed) already; never throws. */
export async function stopAll(nodes: Array<{ stop(): unknown } | undefined>): Promise<void> {
  await Promise.all(
    nodes.map((n) =>
      n === undefined
        ? undefined
        : Promise.resolve()
            .then(() => n.stop())
            .catch(() => undefined),
    ),
  )
}

/**
 * The gossipsub score `node` gives `peer` (negative once the peer sent messages a topic
 * validator rejected). `getScore` exists on gossipsub's implementation but not on its
 * exported interface.
 */
export function gossipScore(node: TaskmeshNode, peer: string): number {
  const pubsub = node.libp2p.services.pubsub as unknown as { getScore?: (peer: string) => number }
  if (typeof pubsub.getScore !== 'function') throw new Error('gossipsub no longer exposes getScore()')
  return pubsub.getScore(peer)
}

/** A plain libp2p peer (not a taskmesh node) with gossipsub — what an outsider or attacker runs. */
export type RawPeer = Libp2p<{ identify: Identify; pubsub: GossipSub }>

/**
 * Starts a raw libp2p peer on TCP loopback: Noise, Yamux, identify and gossipsub with
 * StrictSign (so what it publishes is signed and reaches the taskmesh topic validators).
 */
export async function startRawPeer(): Promise<RawPeer> {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictSign',
        allowPublishToZeroTopicPeers: true,
        scoreParams: { IPColocationFactorWeight: 0 },
      }),
    },
  })
}

/** Dials `node` from `peer` over TCP. */
export async function dialNode(peer: Libp2p, node: TaskmeshNode): Promise<void> {
  await peer.dial(multiaddr(node.multiaddrs[0]), { signal: AbortSignal.timeout(10_000) })
}

/** The fields of a result record every node must agree on. */
export function identity(r: ResultRecord) {
  return { taskId: r.taskId, status: r.status, executor: r.executor, epoch: r.epoch }
}

/** Blocks the event loop for `ms`: a stall of this process, as a long GC or a starved CPU makes. */
export function blockLoop(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // busy: nothing else of this process runs
  }
}

/** A capacity beacon every field of which is within the schema (as a raw peer would publish it). */
/** A well-formed result notice of one task (fields overridable, e.g. to make it malformed). */
export function validNotice(overrides: Record<string, unknown> = {}) {
  return {
    v: 1,
    results: [
      {
        taskId: 'bafkreigi3krky7pvppst3gfhnxdu7jotro44wqn6q7s7cbh7pmjl3pu7ia',
        status: 'succeeded',
        epoch: 1,
      },
    ],
    ...overrides,
  }
}

/** Counts the gossip messages `node` delivered (validated) from `peer`. */
export function heardFrom(node: TaskmeshNode, peer: string): () => number {
  let n = 0
  node.libp2p.services.pubsub.addEventListener('message', (evt) => {
    if (evt.detail.type === 'signed' && evt.detail.from.toString() === peer) n++
  })
  return () => n
}

export function validBeacon(overrides: Record<string, unknown> = {}) {
  return {
    v: 1,
    seq: 1,
    slots: 1,
    running: 0,
    queued: 0,
    queuedWorkMs: 0,
    speed: 1,
    types: ['echo'],
    labels: [],
    memoryMb: 1024,
    expectedWaitMs: 0,
    sentAt: Date.now(),
    ...overrides,
  }
}

/** The unsigned varint (LEB128) of `n`: a frame's length prefix. */
export function varint(n: number): number[] {
  const out: number[] = []
  let v = n
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v)
  return out
}

/** Bytes that are not UTF-8, nor JSON: what hostile-input tests send as junk. */
export const JUNK = new Uint8Array([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x7b, 0x22, 0x80, 0x81])

/** Resolves with `node`'s first event `event` of `taskId` (one already in its story counts). */
export function eventAt(node: TaskmeshNode, taskId: string, event: string): Promise<TaskEvent> {
  const past = node.story(taskId).find((e) => e.event === event)
  if (past !== undefined) return Promise.resolve({ taskId, ...past })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop()
      reject(new Error(`no "${event}" of ${taskId} at ${node.peerId} within ${WAIT_MS} ms`))
    }, WAIT_MS)
    const stop = node.onTaskEvent((e) => {
      if (e.taskId !== taskId || e.event !== event) return
      clearTimeout(timer)
      stop()
      resolve(e)
    })
  })
}
