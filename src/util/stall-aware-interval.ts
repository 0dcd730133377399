/**
 * Lateness of a tick, past its period, from which the process counts as having stalled, ms. A
 * busy event loop runs timers a few ms late all the time; a stall is when it did not run them
 * (nor read its sockets) for a while: a long garbage collection, a starved CPU, a debugger.
 */
export const STALL_THRESHOLD_MS = 100

/**
 * `setInterval(tick, periodMs)` (unref'd) that tells `tick` how long the process stalled before
 * this tick: the time it came late past the period when that exceeds {@link STALL_THRESHOLD_MS},
 * else 0.
 *
 * A check that declares something overdue on silence (a lease nobody renewed, a peer whose
 * beacons stopped) must not count the time this process itself was not running: the renewals and
 * beacons of that time wait unread in its sockets, and timers run before sockets are read. On a
 * stall, such a check pushes its deadlines back by the stall and decides at the next tick.
 */
export function stallAwareInterval(periodMs: number, tick: (stalledMs: number) => void): NodeJS.Timeout {
  let last = performance.now()
  const timer = setInterval(() => {
    const now = performance.now()
    const late = now - last - periodMs
    last = now
    tick(late > STALL_THRESHOLD_MS ? Math.ceil(late) : 0)
  }, periodMs)
  timer.unref()
  return timer
}
