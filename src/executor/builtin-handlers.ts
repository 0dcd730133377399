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

/** `sleep`: input `{ ms, output? }` or a bare number of ms (divided by the node's speed); resolves with `output`. */
function sleep(input: Json, ctx: HandlerContext): Promise<Json> {
  const obj = asObject(input)
  const ms = typeof input === 'number' ? input : obj?.ms
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_SLEEP_MS) {
    throw new UnrecoverableError(`sleep: input must be { ms: number in [0, ${MAX_SLEEP_MS}] } or a number`)
  }
  const speed = ctx.speed !== undefined && ctx.speed > 0 ? ctx.speed : 1
  return sleepFor(ms / speed, obj?.output ?? null, ctx)
}

/** `sha256`: hashes `data` (UTF-8), then re-hashes the digest, `iterations` hashes in all; returns hex. */
function sha256(input: Json): Json {
  const obj = asObject(input)
  const data = obj?.data ?? ''
  const iterations = obj?.iterations
  if (typeof data !== 'string') throw new UnrecoverableError('sha256: input.data must be a string')
  if (
    typeof iterations !== 'number' ||
    !Number.isInteger(iterations) ||
    iterations < 1 ||
    iterations > MAX_SHA256_ITERATIONS
  ) {
    throw new UnrecoverableError(
      `sha256: input.iterations must be an integer in [1, ${MAX_SHA256_ITERATIONS}]`,
    )
  }
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
 * Malformed inputs throw `UnrecoverableError`: retrying cannot fix them.
 */
export const BUILTIN_HANDLERS: Record<string, HandlerDefinition> = {
  echo: { mode: 'inline', run: (input) => input, description: 'returns its input' },
  sleep: {
    mode: 'inline',
    run: sleep,
    description: 'resolves after input.ms (or input ms), with input.output',
  },
  sha256: { mode: 'worker', run: sha256, description: 'iterated SHA-256 of input.data; CPU-bound' },
  fail: { mode: 'inline', run: fail, description: 'throws input.message; unrecoverably if asked' },
  noop: { mode: 'inline', run: () => null, description: 'does nothing, returns null' },
}
