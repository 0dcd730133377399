/** How often one key may speak, in ms: its first line at once, then at most one a window. */
export const THROTTLE_WINDOW_MS = 1_000

/** Keys remembered at most; past it, those whose window has passed are forgotten. */
const MAX_KEYS = 1_024

/**
 * Lets one line a window through for each key (a peer, say), counting those held back: a peer
 * that sends a malformed frame a millisecond fills no disk with warnings, and the next line it
 * gets says how many were held back. Pure: the caller passes the time.
 */
export class PerKeyThrottle {
  readonly #keys = new Map<string, { since: number; held: number }>()

  constructor(private readonly windowMs = THROTTLE_WINDOW_MS) {}

  /**
   * Whether a line for `key` goes out at `now`, and if so how many were held back since the last
   * one that did (`undefined`: hold this one back).
   */
  pass(key: string, now: number): { held: number } | undefined {
    const seen = this.#keys.get(key)
    if (seen !== undefined && now - seen.since < this.windowMs) {
      seen.held++
      return undefined
    }
    if (seen === undefined && this.#keys.size >= MAX_KEYS) this.#forget(now)
    this.#keys.set(key, { since: now, held: 0 })
    return { held: seen?.held ?? 0 }
  }

  /** Forgets the keys whose window has passed (their held-back count goes unsaid). */
  #forget(now: number): void {
    for (const [key, seen] of this.#keys) if (now - seen.since >= this.windowMs) this.#keys.delete(key)
  }
}
