import { MAX_SLEEP_MS } from '../executor/builtin-handlers.ts'

/** A seeded generator (mulberry32): the same seed gives the same workload. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A standard normal sample (Box–Muller). */
export function normal(random: () => number): number {
  const u = Math.max(random(), Number.EPSILON)
  const v = random()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

/** Task durations of a simulated workload. */
export type DurationDistribution =
  | { kind: 'fixed'; ms: number }
  | { kind: 'lognormal'; medianMs: number; sigma: number }
  | { kind: 'uniform'; minMs: number; maxMs: number }

/** Draws one duration, ms (at least 1). */
export function sampleDuration(d: DurationDistribution, random: () => number): number {
  switch (d.kind) {
    case 'fixed':
      return Math.max(1, Math.round(d.ms))
    case 'lognormal':
      return Math.max(1, Math.round(d.medianMs * Math.exp(d.sigma * normal(random))))
    case 'uniform':
      return Math.max(1, Math.round(d.minMs + (d.maxMs - d.minMs) * random()))
  }
}

/** Parses `fixed:20`, `lognormal:20[:0.5]` or `uniform:10:30`. */
export function parseDuration(text: string): DurationDistribution {
  const [kind, a, b, ...rest] = text.split(':')
  const fields = { fixed: 1, lognormal: 2, uniform: 2 }[kind]
  if (fields === undefined) throw new Error(`duration "${text}": kind must be fixed, lognormal or uniform`)
  if (rest.length > 0 || (fields === 1 && b !== undefined)) {
    throw new Error(
      `duration "${text}": ${kind} takes ${fields === 1 ? 'one number' : 'two numbers at most'}`,
    )
  }
  /** A positive number, at most `max` (a task's sleep is bounded: longer ones would be refused at submission). */
  const num = (s: string | undefined, what: string, max = MAX_SLEEP_MS) => {
    const n = Number(s)
    if (s === undefined || !Number.isFinite(n) || n <= 0 || n > max)
      throw new Error(`duration "${text}": ${what} must be a positive number up to ${max}`)
    return n
  }
  if (kind === 'fixed') return { kind, ms: num(a, 'ms') }
  if (kind === 'lognormal')
    return { kind, medianMs: num(a, 'median'), sigma: b === undefined ? 0.5 : num(b, 'sigma', MAX_SIGMA) }
  const minMs = num(a, 'min')
  const maxMs = num(b, 'max')
  if (maxMs < minMs) throw new Error(`duration "${text}": max must not be below min`)
  return { kind: 'uniform', minMs, maxMs }
}

/** Largest `sigma` of a lognormal duration (beyond it, nearly every draw is cut to the longest sleep). */
const MAX_SIGMA = 5

/** The q-quantile (0..1) of a list of numbers (nearest rank). */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}
