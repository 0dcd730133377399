/** How many calls may be in flight: read again each time a call ends; `start` numbers the calls. */
export interface ConcurrencyLimit {
  readonly current: number
  /** A call starts: its ticket (see `AimdLimit.timedOut`). */
  start(): number
}

/**
 * Runs `fn` on every item, in order, with at most `limit` calls in flight at once: each call that
 * ends starts the next item. Stops taking items once `stopped` says so. Rejects with the first
 * error `fn` throws (the calls in flight run on).
 */
export function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
  stopped: () => boolean = () => false,
): Promise<void> {
  if (!(limit >= 1)) throw new RangeError(`eachLimited: the limit must be at least 1, got ${limit}`)
  let started = 0
  return eachWithin(items, { current: limit, start: () => ++started }, fn, stopped)
}

/**
 * {@link eachLimited} under a limit that may change while it runs (see `AimdLimit`): it is read
 * again each time a call ends, so a change takes effect at once. `fn` gets the call's ticket.
 */
export function eachWithin<T>(
  items: readonly T[],
  limit: ConcurrencyLimit,
  fn: (item: T, ticket: number) => Promise<void>,
  stopped: () => boolean = () => false,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let next = 0
    let inFlight = 0
    let failed = false
    const pump = (): void => {
      while (!failed && inFlight < limit.current && next < items.length && !stopped()) {
        const item = items[next++]
        const ticket = limit.start()
        inFlight++
        Promise.resolve()
          .then(() => fn(item, ticket))
          .then(
            () => {
              inFlight--
              pump()
            },
            (err: unknown) => {
              failed = true
              reject(err)
            },
          )
      }
      if (!failed && inFlight === 0 && (next >= items.length || stopped())) resolve()
    }
    pump()
  })
}
