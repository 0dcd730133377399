import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import { silentLogger } from '../../src/log/logger.ts'
import { resolveNodeOptions, type TaskmeshNodeOptions } from '../../src/node/options.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { generateSwarmKey } from '../../src/node/wire/swarm-key.ts'
import { STRICT_PRIORITY } from '../../src/policy/priority.ts'
import { MAX_MEMORY_MB, MAX_NODE_SLOTS, MAX_SPEED } from '../../src/protocol/constants.ts'
import { InvalidTaskError } from '../../src/task/errors.ts'
import { MAX_LABELS } from '../../src/task/limits.ts'

/** The message `resolveNodeOptions` refuses `options` with (an InvalidTaskError), or a failure. */
function refusal(options: unknown): string {
  try {
    resolveNodeOptions(options as TaskmeshNodeOptions)
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidTaskError)
    return (err as Error).message
  }
  throw new Error(`accepted ${JSON.stringify(options)}`)
}

let peer: string
beforeAll(async () => {
  peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
})

describe('TaskmeshNode options: what peers would drop from its capacity beacons (1)', () => {
  it.each([
    [{ slots: 5000 }, `slots: must be an integer from 1 to ${MAX_NODE_SLOTS}, got 5000`],
    [{ slots: 0 }, `slots: must be an integer from 1 to ${MAX_NODE_SLOTS}, got 0`],
    [{ memoryMb: -5 }, `memoryMb: must be an integer from 0 to ${MAX_MEMORY_MB}, got -5`],
    [{ memoryMb: 'lots' }, `memoryMb: must be an integer from 0 to ${MAX_MEMORY_MB}, got "lots"`],
    [
      { memoryMb: MAX_MEMORY_MB + 1 },
      `memoryMb: must be an integer from 0 to ${MAX_MEMORY_MB}, got ${MAX_MEMORY_MB + 1}`,
    ],
    [{ speed: MAX_SPEED * 2 }, `speed: must be a positive number up to ${MAX_SPEED}, got ${MAX_SPEED * 2}`],
    [{ labels: ['gpu', 42] }, 'labels[1]: must be a string matching /^[a-z0-9][a-z0-9._:/-]{0,63}$/, got 42'],
    [{ labels: ['GPU'] }, 'labels[0]: must be a string matching /^[a-z0-9][a-z0-9._:/-]{0,63}$/, got "GPU"'],
    [{ maxQueueLength: 2e7 }, 'maxQueueLength: must be an integer from 1 to 10000000, got 20000000'],
  ])('refuses %j', (options, message) => {
    expect(refusal(options)).toBe(message)
  })

  it(`refuses more labels than a beacon carries (${MAX_LABELS})`, () => {
    const labels = Array.from({ length: MAX_LABELS + 1 }, (_, i) => `l${i}`)
    expect(refusal({ labels })).toBe(
      `labels: must hold at most ${MAX_LABELS} labels (what a capacity beacon carries), got an array of ${MAX_LABELS + 1} items`,
    )
    expect(resolveNodeOptions({ labels: labels.slice(1) }).labels).toHaveLength(MAX_LABELS)
  })
})

describe('TaskmeshNode options: unknown keys (2)', () => {
  it.each([
    [{ slot: 4 }, 'slot: is not an option (did you mean "slots"?), got 4'],
    [{ lables: ['gpu'] }, 'lables: is not an option (did you mean "labels"?), got ["gpu"]'],
    [{ slots: 1, colour: 'red' }, 'colour: is not an option, got "red"'],
  ])('refuses %j, naming the key', (options, message) => {
    expect(refusal(options)).toBe(message)
  })
})

describe('TaskmeshNode options: enums, booleans and objects (3, 4)', () => {
  it.each([
    [{ durability: 'SYNC' }, 'durability: must be one of "sync", "os", got "SYNC"'],
    [{ durability: 'maybe' }, 'durability: must be one of "sync", "os", got "maybe"'],
    [{ stealOrder: 'random' }, 'stealOrder: must be one of "most-urgent", "least-urgent", got "random"'],
    [{ transport: 'udp' }, 'transport: must be one of "tcp", "memory", got "udp"'],
    [{ mdns: 'yes' }, 'mdns: must be true or false, got "yes"'],
    [{ backoff: 'none' }, 'backoff: must be an object, got "none"'],
    [
      { backoff: { baseMs: 10 } },
      'backoff.capMs: must be a number of ms from 0 to 2147483647, got undefined',
    ],
    [
      { backoff: { baseMs: Number.NaN, capMs: 1 } },
      'backoff.baseMs: must be a number of ms from 0 to 2147483647, got NaN',
    ],
    [
      { backoff: { baseMs: 1, capMs: 1, jitter: 0 } },
      'backoff.jitter: is not a field of backoff (baseMs, capMs), got 0',
    ],
    [{ redials: { retries: 11 } }, 'redials.retries: must be an integer from 0 to 10, got 11'],
    [{ redials: { lostMs: 0 } }, 'redials.lostMs: must be an integer from 1 to 2147483647, got 0'],
    [
      { redials: { everyMs: 5 } },
      'redials.everyMs: is not a field of redials (retries, firstMs, lostMs), got 5',
    ],
    [{ queuePolicy: { kind: 'fifo' } }, 'queuePolicy.kind: must be one of "strict", "aging", got "fifo"'],
    [
      { queuePolicy: { kind: 'aging', theta: 2, tauMs: 1 } },
      'queuePolicy: theta must be a number below every weight (< 1), got 2',
    ],
    [{ leaseTtlMs: 2 ** 31 }, 'leaseTtlMs: must be an integer from 1 to 2147483647, got 2147483648'],
    [{ beaconIntervalMs: 0.5 }, 'beaconIntervalMs: must be an integer from 1 to 2147483647, got 0.5'],
    [
      { connectionGater: { denyDialPeer: true } },
      'connectionGater.denyDialPeer: must be a function, got true',
    ],
  ])('refuses %j', (options, message) => {
    expect(refusal(options)).toBe(message)
  })
})

describe('TaskmeshNode options: values of the wrong type (5)', () => {
  it.each([
    [{ labels: 'gpu' }, 'labels: must be an array, got "gpu"'],
    [{ allowSubmitters: 'x' }, 'allowSubmitters: must be an array, got "x"'],
    [{ listen: '/ip4/127.0.0.1/tcp/0' }, 'listen: must be an array, got "/ip4/127.0.0.1/tcp/0"'],
    [{ handlers: [42] }, 'handlers[0]: must be a non-empty string, got 42'],
    [{ handlers: '/tmp/x.mjs' }, 'handlers: must be an array, got "/tmp/x.mjs"'],
    [
      { registry: {} },
      'registry: must be a HandlerRegistry (with the methods get, has, types, register), got {}',
    ],
    [{ pool: 3 }, 'pool: must be a WorkerPool (with the methods run, close), got 3'],
    [
      { logger: console.log },
      'logger: must be a Logger (pino) (with the methods child, debug, info, warn, error), got a function',
    ],
    [{ privateKey: 'abc' }, 'privateKey: must be a libp2p private key (as generateKeyPair makes), got "abc"'],
    [{ random: 5 }, 'random: must be a function returning numbers in [0, 1), got 5'],
    [{ dataDir: 42 }, 'dataDir: must be a non-empty string, got 42'],
    [{ dataDir: '' }, 'dataDir: must be a non-empty string, got ""'],
    [null, 'options: must be an object, got null'],
  ])('refuses %j', (options, message) => {
    expect(refusal(options)).toBe(message)
  })

  it('refuses a peer list given as one string, and an entry that is not a peer id', () => {
    expect(refusal({ denyPeers: peer })).toBe(`denyPeers: must be an array, got "${peer}"`)
    expect(refusal({ denyPeers: [peer, 7] })).toBe('denyPeers[1]: must be a peer id string, got 7')
    expect(refusal({ allowSubmitters: [peer, 'nope'] })).toBe('allowSubmitters[1]: "nope" is not a peer id')
  })
})

describe('TaskmeshNode options: multiaddrs (6)', () => {
  it.each([
    [
      { listen: ['garbage'] },
      'listen[0]: is not a multiaddr (String multiaddr must start with "/"), got "garbage"',
    ],
    [
      { listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/999.1.1.1/tcp/0'] },
      'listen[1]: is not a multiaddr (Invalid IPv4 address "999.1.1.1"), got "/ip4/999.1.1.1/tcp/0"',
    ],
    [{ listen: [''] }, 'listen[0]: is not a multiaddr (it has no protocol), got ""'],
    [
      { bootstrap: ['garbage'] },
      'bootstrap[0]: is not a multiaddr (String multiaddr must start with "/"), got "garbage"',
    ],
    [
      { bootstrap: ['/ip4/10.0.0.1/tcp/4001'] },
      'bootstrap[0]: must end in /p2p/<peer id> (the peer to dial), got "/ip4/10.0.0.1/tcp/4001"',
    ],
    [{ bootstrap: ['/ip4/10.0.0.1/tcp/4001/p2p/nope'] }, 'bootstrap[0]: "nope" is not a peer id'],
  ])('refuses %j, naming the entry', (options, message) => {
    expect(refusal(options)).toBe(message)
  })
})

describe('TaskmeshNode options: swarm key (7) and handlers beside a registry (8)', () => {
  it('refuses a swarm key of the wrong length or type', () => {
    const short = generateSwarmKey().slice(0, 60)
    expect(refusal({ swarmKey: short })).toBe(
      'swarmKey: is not a libp2p swarm key: line 3 must be the key: 64 hexadecimal digits (32 bytes), and nothing after it, got a Uint8Array of 60 bytes',
    )
    expect(refusal({ swarmKey: 'abc' })).toBe(
      'swarmKey: must be the contents of a swarm key file (a Uint8Array), got "abc"',
    )
  })

  it('refuses a failure-detection window of one beacon interval or less: every peer would seem dead', () => {
    expect(refusal({ failureDetectionMs: 100 })).toBe(
      'failureDetectionMs: must be more than beaconIntervalMs (1000): every peer would be judged dead between two of its beacons (the default is 3 intervals and a bit), got 100',
    )
    expect(refusal({ beaconIntervalMs: 500, failureDetectionMs: 500 })).toMatch(
      /^failureDetectionMs: must be more than beaconIntervalMs \(500\)/,
    )
    expect(resolveNodeOptions({ beaconIntervalMs: 100, failureDetectionMs: 300 }).failureDetectionMs).toBe(
      300,
    )
  })

  it('refuses handlers beside a registry, which would ignore them', async () => {
    const registry = await HandlerRegistry.withBuiltins()
    expect(refusal({ registry, handlers: ['/tmp/x.mjs'] })).toBe(
      'handlers: cannot be combined with registry, which replaces the built-ins and these modules (load them into it with registry.load), got ["/tmp/x.mjs"]',
    )
    expect(resolveNodeOptions({ registry, handlers: [] }).registry).toBe(registry)
  })
})

describe('TaskmeshNode options that are valid', () => {
  it('are accepted, every option given, and an option set to undefined counts as left out', async () => {
    const privateKey = await generateKeyPair('Ed25519')
    const options: TaskmeshNodeOptions = {
      ...{ privateKey, dataDir: '/tmp/n', durability: 'os', listen: ['/ip4/127.0.0.1/tcp/0'] },
      ...{ bootstrap: [`/ip4/127.0.0.1/tcp/4001/p2p/${peer}`], transport: 'tcp', mdns: false },
      ...{ swarmKey: generateSwarmKey(), connectionGater: { denyDialPeer: async () => false } },
      ...{ denyPeers: [peer], slots: MAX_NODE_SLOTS, labels: ['gpu'], memoryMb: 0, speed: 0.5 },
      ...{ registry: await HandlerRegistry.withBuiltins(), queuePolicy: STRICT_PRIORITY },
      ...{ stealOrder: 'least-urgent', leaseTtlMs: 1, beaconIntervalMs: 250, failureDetectionMs: 900 },
      ...{ maxExecutorLosses: 2, maxQueueLength: 10, allowSubmitters: [peer], requestTimeoutMs: 100 },
      ...{ maxInboundRequestBytes: 1024, recordCopies: 0, custodians: 0, maxConnections: 4 },
      ...{ backoff: { baseMs: 0, capMs: 10 }, random: () => 0.5, unschedulableAfterMs: 100 },
      ...{ redials: { retries: 0, lostMs: 500, firstMs: undefined }, logger: silentLogger() },
    }
    expect(resolveNodeOptions(options)).toMatchObject({ slots: MAX_NODE_SLOTS, durability: 'os' })
    // the fields of redials left out keep their defaults
    expect(resolveNodeOptions(options).redials).toEqual({ retries: 0, firstMs: 1_000, lostMs: 500 })
    expect(
      resolveNodeOptions({ slots: undefined, swarmKey: undefined, durability: undefined }).slots,
    ).toBeLessThanOrEqual(MAX_NODE_SLOTS)
  })
})

describe('TaskmeshNode.create with a bad option', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taskmesh-refusal-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('rejects before it makes anything: the data dir stays empty', async () => {
    await expect(TaskmeshNode.create({ dataDir: dir, durability: 'SYNC' as never })).rejects.toThrow(
      'durability: must be one of "sync", "os", got "SYNC"',
    )
    expect(await readdir(dir)).toEqual([])
  })
})
