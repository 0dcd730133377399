/**
 * The clock a node judges durations by: ms since the epoch as the wall clock read when this process
 * (or thread) started, plus the time elapsed since on Node's monotonic clock (`performance.now()`).
 * It reads as the wall clock does until the wall clock is stepped — by NTP, `date -s`, a virtual
 * machine resumed — and then goes on at the pace of real time. Every deadline and every "silent
 * for so long" a node decides by itself is on it: a lease's expiry, a peer's silence, a batch's
 * window, a wait's deadline. On the wall clock, a step forward of an hour expired every lease and
 * judged every peer dead at once, and a step back held batches and expiries for the hour.
 * Timestamps that leave the process (records' `startedAt` and `finishedAt`, beacons' `sentAt`,
 * epochs taken from the clock) stay on the wall clock.
 */
export function monotonicNow(): number {
  // whole ms, as `Date.now()`: the times derived from it go into messages that take integers
  return Math.floor(performance.timeOrigin + performance.now())
}

/** The wall-clock time of an instant `at` read on {@link monotonicNow}. */
export function wallTimeOf(at: number): number {
  return Date.now() - (monotonicNow() - at)
}
