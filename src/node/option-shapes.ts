import { isPrivateKey } from '@libp2p/interface'
import { MAX_TIMER_MS } from '../executor/inline-runner.ts'
import type { BackoffPolicy } from '../policy/backoff.ts'
import { InvalidPolicyError } from '../policy/errors.ts'
import { type QueuePolicy, validateQueuePolicy } from '../policy/priority.ts'
import type { StealOrder } from '../policy/queue.ts'
import {
  MAX_CUSTODIANS,
  MAX_MEMORY_MB,
  MAX_NODE_SLOTS,
  MAX_QUEUED_TASKS,
  MAX_RECORD_COPIES,
  MAX_SPEED,
} from '../protocol/constants.ts'
import { InvalidTaskError } from '../task/errors.ts'
import { MAX_LABELS } from '../task/limits.ts'
import { NAME_PATTERN } from '../task/spec.ts'
import {
  canonicalPeerId,
  countUpTo,
  intFrom,
  listOf,
  multiaddrString,
  nearestKey,
  nonEmptyString,
  objectValue,
  oneOf,
  positiveInt,
  positiveNumber,
  refuse,
  withMethods,
} from './option-checks.ts'
import { detectionTooShort, type TaskmeshNodeOptions } from './options.ts'
import type { Durability } from './owner/journal.ts'
import { MAX_LIBP2P_REDIALS, type PeerRedials } from './peers/liveness-watch.ts'
import { parseSwarmKey } from './wire/swarm-key.ts'

// what each option of TaskmeshNode.create may be: its type, and the range the mesh accepts (the
// capacity beacon's schema bounds slots, memoryMb, speed, the labels and the queued count)

/** Checks one option's value. @throws InvalidTaskError naming `field` and the value */
type OptionCheck = (value: unknown, field: string) => void

// every value of each string union, as a record over it: the compiler keeps them complete
const DURABILITIES: Record<Durability, true> = { sync: true, os: true }
const TRANSPORTS: Record<NonNullable<TaskmeshNodeOptions['transport']>, true> = { tcp: true, memory: true }
const STEAL_ORDERS: Record<StealOrder, true> = { 'most-urgent': true, 'least-urgent': true }
const POLICY_KINDS: Record<QueuePolicy['kind'], true> = { strict: true, aging: true }
const BACKOFF_FIELDS: Record<keyof BackoffPolicy, true> = { baseMs: true, capMs: true }

/** One of the keys of `values`. */
const enumOf =
  (values: Record<string, true>): OptionCheck =>
  (value, field) =>
    oneOf(value, Object.keys(values), field)

/** A number of ms that a timer can wait (Node fires a longer timeout at once). */
const durationMs: OptionCheck = (value, field) => intFrom(value, 1, MAX_TIMER_MS, field)

/** Labels: at most what a capacity beacon carries, each a name (`gpu`). */
const labels: OptionCheck = (value, field) => {
  const list = listOf(value, field, (label, at) => {
    if (typeof label !== 'string' || !NAME_PATTERN.test(label))
      refuse(`must be a string matching ${NAME_PATTERN}`, label, at)
  })
  if (list.length > MAX_LABELS)
    refuse(`must hold at most ${MAX_LABELS} labels (what a capacity beacon carries)`, value, field)
}

/** The contents of a libp2p v1 swarm key file, as `parseSwarmKey` accepts them. */
const swarmKey: OptionCheck = (value, field) => {
  if (!(value instanceof Uint8Array))
    refuse('must be the contents of a swarm key file (a Uint8Array)', value, field)
  try {
    parseSwarmKey(value)
  } catch (err) {
    refuse(`is not a libp2p swarm key: ${(err as Error).message}`, value, field)
  }
}

/** A libp2p connection gater: an object of optional `deny…`/`filter…` functions. */
const connectionGater: OptionCheck = (value, field) => {
  for (const [key, member] of Object.entries(objectValue(value, field))) {
    if (member !== undefined && typeof member !== 'function')
      refuse('must be a function', member, `${field}.${key}`)
  }
}

/** A strict or aging policy, its parameters in range (see `validateQueuePolicy`). */
const queuePolicy: OptionCheck = (value, field) => {
  oneOf(objectValue(value, field).kind, Object.keys(POLICY_KINDS), `${field}.kind`)
  try {
    validateQueuePolicy(value as QueuePolicy)
  } catch (err) {
    if (err instanceof InvalidPolicyError) throw new InvalidTaskError(err.message, field)
    throw err
  }
}

/** `{ baseMs, capMs }`, each a number of ms a timer can wait, and nothing else. */
const backoff: OptionCheck = (value, field) => {
  const policy = objectValue(value, field)
  const fields = Object.keys(BACKOFF_FIELDS)
  for (const key of Object.keys(policy)) {
    if (!Object.hasOwn(BACKOFF_FIELDS, key))
      refuse(`is not a field of backoff (${fields.join(', ')})`, policy[key], `${field}.${key}`)
  }
  for (const key of fields) {
    const ms = policy[key]
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_TIMER_MS)
      refuse(`must be a number of ms from 0 to ${MAX_TIMER_MS}`, ms, `${field}.${key}`)
  }
}

/** Each field of `redials`: libp2p's redial count, and two delays a timer can wait. */
const REDIAL_FIELDS: Record<keyof PeerRedials, OptionCheck> = {
  retries: (v, f) => intFrom(v, 0, MAX_LIBP2P_REDIALS, f),
  firstMs: durationMs,
  lostMs: durationMs,
}

/** Some of `{ retries, firstMs, lostMs }`, and nothing else. */
const redials: OptionCheck = (value, field) => {
  for (const [key, member] of Object.entries(objectValue(value, field))) {
    if (!Object.hasOwn(REDIAL_FIELDS, key))
      refuse(
        `is not a field of redials (${Object.keys(REDIAL_FIELDS).join(', ')})`,
        member,
        `${field}.${key}`,
      )
    if (member !== undefined) REDIAL_FIELDS[key as keyof PeerRedials](member, `${field}.${key}`)
  }
}

/** The check of every option, by its key: an option missing here, or one too many, does not compile. */
const OPTION_CHECKS: Record<keyof TaskmeshNodeOptions, OptionCheck> = {
  privateKey: (v, f) => {
    if (!isPrivateKey(v)) refuse('must be a libp2p private key (as generateKeyPair makes)', v, f)
  },
  dataDir: nonEmptyString,
  durability: enumOf(DURABILITIES),
  listen: (v, f) => listOf(v, f, (addr, at) => multiaddrString(addr, at)),
  bootstrap: (v, f) => listOf(v, f, (addr, at) => multiaddrString(addr, at, true)),
  transport: enumOf(TRANSPORTS),
  mdns: (v, f) => {
    if (typeof v !== 'boolean') refuse('must be true or false', v, f)
  },
  swarmKey,
  connectionGater,
  denyPeers: (v, f) => listOf(v, f, canonicalPeerId),
  slots: (v, f) => intFrom(v, 1, MAX_NODE_SLOTS, f),
  labels,
  memoryMb: (v, f) => intFrom(v, 0, MAX_MEMORY_MB, f),
  speed: (v, f) => positiveNumber(v, f, MAX_SPEED),
  registry: (v, f) => withMethods(v, ['get', 'has', 'types', 'register'], 'a HandlerRegistry', f),
  handlers: (v, f) => listOf(v, f, nonEmptyString),
  pool: (v, f) => withMethods(v, ['run', 'close'], 'a WorkerPool', f),
  queuePolicy,
  stealOrder: enumOf(STEAL_ORDERS),
  leaseTtlMs: durationMs,
  beaconIntervalMs: durationMs,
  failureDetectionMs: durationMs,
  maxExecutorLosses: positiveInt,
  // the queue's stealable count goes into beacons, which bound it
  maxQueueLength: (v, f) => intFrom(v, 1, MAX_QUEUED_TASKS, f),
  allowSubmitters: (v, f) => listOf(v, f, canonicalPeerId),
  requestTimeoutMs: durationMs,
  maxInboundRequestBytes: positiveInt,
  recordCopies: (v, f) => countUpTo(v, MAX_RECORD_COPIES, f),
  custodians: (v, f) => countUpTo(v, MAX_CUSTODIANS, f),
  maxConnections: positiveInt,
  redials,
  backoff,
  random: (v, f) => {
    if (typeof v !== 'function') refuse('must be a function returning numbers in [0, 1)', v, f)
  },
  unschedulableAfterMs: durationMs,
  logger: (v, f) => withMethods(v, ['child', 'debug', 'info', 'warn', 'error'], 'a Logger (pino)', f),
}

const OPTION_KEYS = Object.keys(OPTION_CHECKS)

/**
 * Refuses options `TaskmeshNode.create` cannot start with, before anything is made: not an
 * object, an unknown key (with the known one it is most likely a misspelling of), a value of the
 * wrong type, out of range or not one of the allowed values, and `handlers` beside `registry`. An
 * option set to `undefined` counts as left out.
 * @throws InvalidTaskError naming the option (`labels[3]` for an entry of a list) and the value
 */
export function checkNodeOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    refuse('must be an object', options, 'options')
  const given = options as Record<string, unknown>
  for (const key of Object.keys(given)) {
    if (Object.hasOwn(OPTION_CHECKS, key)) continue
    const near = nearestKey(key, OPTION_KEYS)
    refuse(`is not an option${near === undefined ? '' : ` (did you mean "${near}"?)`}`, given[key], key)
  }
  for (const [key, check] of Object.entries(OPTION_CHECKS)) {
    if (given[key] !== undefined) check(given[key], key)
  }
  // a peer is judged dead after this long without a beacon: at one interval or less, between two
  const beaconMs = detectionTooShort(
    given.failureDetectionMs as number | undefined,
    given.beaconIntervalMs as number | undefined,
  )
  if (beaconMs !== undefined)
    refuse(
      `must be more than beaconIntervalMs (${beaconMs}): every peer would be judged dead between two of its beacons (the default is 3 intervals and a bit)`,
      given.failureDetectionMs,
      'failureDetectionMs',
    )
  // a registry is used as it is: the modules would never be loaded
  if (given.registry !== undefined && (given.handlers as unknown[] | undefined)?.length) {
    refuse(
      'cannot be combined with registry, which replaces the built-ins and these modules (load them into it with registry.load)',
      given.handlers,
      'handlers',
    )
  }
}
