/** A query the API refuses (400 `ERR_BAD_REQUEST`); `field` names the parameter. */
export class BadQueryError extends Error {
  override readonly name = 'BadQueryError'
  readonly code = 'ERR_BAD_REQUEST'
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message)
  }
}

/**
 * Refuses a query parameter the route does not know, and one given twice.
 * @throws BadQueryError naming the parameter and the ones the route takes.
 */
export function checkParams(url: URL, route: string, allowed: readonly string[]): void {
  const seen = new Set<string>()
  for (const name of url.searchParams.keys()) {
    if (!allowed.includes(name)) {
      const takes = allowed.length === 0 ? 'takes no parameters' : `takes ${allowed.join(', ')}`
      throw new BadQueryError(`unknown query parameter "${name}": ${route} ${takes}`, name)
    }
    if (seen.has(name)) throw new BadQueryError(`query parameter "${name}" is given twice`, name)
    seen.add(name)
  }
}

/**
 * A comma-separated list parameter (`?ids=a,b`): undefined when absent; each item checked by
 * `valid`, at most `max` items.
 * @throws BadQueryError saying which item is wrong and what is allowed.
 */
export function listParam(
  url: URL,
  name: string,
  opts: { valid: (item: string) => boolean; expected: string; max: number },
): string[] | undefined {
  const value = url.searchParams.get(name)
  if (value === null) return undefined
  const items = value.split(',').map((s) => s.trim())
  if (items.some((i) => i === '')) {
    throw new BadQueryError(
      `${name} must be a comma-separated list of ${opts.expected}, got "${value}"`,
      name,
    )
  }
  if (items.length > opts.max) {
    throw new BadQueryError(`${name} lists ${items.length} items, at most ${opts.max}`, name)
  }
  const bad = items.find((i) => !opts.valid(i))
  if (bad !== undefined) {
    const shown = bad.length > 80 ? `${bad.slice(0, 80)}…` : bad
    throw new BadQueryError(`${name}: "${shown}" is not ${opts.expected}`, name)
  }
  return [...new Set(items)]
}

/**
 * An integer parameter within `[min, max]`; `fallback` when absent.
 * @throws BadQueryError naming the parameter and the range.
 */
export function intParam(url: URL, name: string, min: number, max: number, fallback: number): number {
  const value = url.searchParams.get(name)
  if (value === null) return fallback
  const n = /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new BadQueryError(`${name} must be an integer from ${min} to ${max}, got "${value}"`, name)
  }
  return n
}
