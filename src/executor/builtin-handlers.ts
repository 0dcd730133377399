import { createHash } from 'node:crypto'
import type { Json } from '../task/spec.ts'
import { type HandlerContext, type HandlerDefinition, UnrecoverableError } from './handler.ts'

/** Longest a `sleep` task may sleep, in ms (24 hours, the longest task timeout). */
export const MAX_SLEEP_MS = 24 * 60 * 60 * 1000
/** Most iterations a `sha256` task may ask for (about an hour of one core). */
export const MAX_SHA256_ITERATIONS = 4_000_000_000

type JsonObject = { [key: string]: Json }

function asObject(input: Json): JsonObject | undefined {
  return typeof input === 'object' && input !== null && !Array.isArray(input) ? input : undefined
}

/**
 * Resolves with `output` after `ms`, or rejects with the cancel's reason as soon as the attempt is
 * cancelled or times out — heard through `ctx.onCancel` where the context has it (inline: no
 * AbortSignal made per sleep), else through `ctx.signal`.
 */
function sleepFor(ms: number, output: Json, ctx: HandlerContext): Promise<Json> {
  return new Promise((resolve, reject) => {
    if (ctx.onCancel !== undefined) {
      const timer = setTimeout(() => {
        stop()
        resolve(output)
      }, ms)
      const stop = ctx.onCancel((reason) => {
        clearTimeout(timer)
        reject(reason)
      })
      return
    }
    const { signal } = ctx
    if (signal.aborted) {
      reject(signal.reason)
      return
    }
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve(output)
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** The ms a `sleep` input asks for, or undefined when it is not `{ ms, output? }` or a number in range. */
function sleepMs(input: Json): number | undefined {
  const ms = typeof input === 'number' ? input : asObject(input)?.ms
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 && ms <= MAX_SLEEP_MS ? ms : undefined
}

const SLEEP_INPUT = `sleep: input must be { ms: number in [0, ${MAX_SLEEP_MS}] } or a number`

/** `sleep`: input `{ ms, output? }` or a bare number of ms (divided by the node's speed); resolves with `output`. */
function sleep(input: Json, ctx: HandlerContext): Promise<Json> {
  const ms = sleepMs(input)
  if (ms === undefined) throw new UnrecoverableError(SLEEP_INPUT)
  const speed = ctx.speed !== undefined && ctx.speed > 0 ? ctx.speed : 1
  return sleepFor(ms / speed, asObject(input)?.output ?? null, ctx)
}

/** What is wrong with a `sha256` input (`{ data?: string, iterations }`), or undefined. */
function sha256Problem(input: Json): string | undefined {
  const obj = asObject(input)
  const iterations = obj?.iterations
  if (typeof (obj?.data ?? '') !== 'string') return 'sha256: input.data must be a string'
  if (
    typeof iterations !== 'number' ||
    !Number.isInteger(iterations) ||
    iterations < 1 ||
    iterations > MAX_SHA256_ITERATIONS
  ) {
    return `sha256: input.iterations must be an integer in [1, ${MAX_SHA256_ITERATIONS}]`
  }
  return undefined
}

/** `sha256`: hashes `data` (UTF-8), then re-hashes the digest, `iterations` hashes in all; returns hex. */
function sha256(input: Json): Json {
  const problem = sha256Problem(input)
  if (problem !== undefined) throw new UnrecoverableError(problem)
  const obj = asObject(input) as JsonObject
  const data = (obj.data ?? '') as string
  const iterations = obj.iterations as number
  let digest = createHash('sha256').update(data, 'utf8').digest()
  for (let i = 1; i < iterations; i++) digest = createHash('sha256').update(digest).digest()
  return digest.toString('hex')
}

/** `fail`: input `{ message?, unrecoverable? }`; always throws. */
function fail(input: Json): never {
  const obj = asObject(input)
  const message = typeof obj?.message === 'string' ? obj.message : 'failed on purpose'
  throw obj?.unrecoverable === true ? new UnrecoverableError(message) : new Error(message)
}

/**
 * Handlers every node offers, for demos and simulations:
 * - `echo` (inline): returns its input.
 * - `sleep` (inline, timer-based): `{ ms, output? }` or a number; honours the abort signal.
 * - `sha256` (worker, CPU-bound): `{ data?, iterations }` → hex digest after `iterations` hashes.
 * - `fail` (inline): `{ message?, unrecoverable? }` → throws `Error` or `UnrecoverableError`.
 * - `noop` (inline): returns `null`.
 *
 * Malformed inputs are refused at submission by a node that runs the handler (`checkInput`), and
 * throw `UnrecoverableError` if run all the same (a task accepted where the handler is not).
 */
export const BUILTIN_HANDLERS: Record<string, HandlerDefinition> = {
  echo: { mode: 'inline', run: (input) => input, description: 'returns its input' },
  sleep: {
    mode: 'inline',
    run: sleep,
    description: 'resolves after input.ms (or input ms), with input.output',
    checkInput: (input) => (sleepMs(input) === undefined ? SLEEP_INPUT : undefined),
  },
  sha256: {
    mode: 'worker',
    run: sha256,
    description: 'iterated SHA-256 of input.data; CPU-bound',
    checkInput: sha256Problem,
  },
  fail: { mode: 'inline', run: fail, description: 'throws input.message; unrecoverably if asked' },
  noop: { mode: 'inline', run: () => null, description: 'does nothing, returns null' },
}
