/** Parameters of exponential backoff with full jitter. */
export interface BackoffPolicy {
  /** Delay scale of the first retry, ms. @defaultValue 100 */
  baseMs: number
  /** Largest delay, ms. @defaultValue 30000 */
  capMs: number
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 100, capMs: 30_000 }

/**
 * Delay before retry number `retry` (1 for the first retry): uniformly random in
 * [0, min(cap, base · 2^(retry−1))] — "full jitter", which spreads retries of many failing
 * tasks instead of synchronising them.
 */
export function backoffDelayMs(
  retry: number,
  random: () => number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, retry - 1))
  return Math.floor(random() * ceiling)
}
