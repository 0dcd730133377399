import type { LingeringRuns } from '../../executor/lingering-runs.ts'
import type { Logger } from '../../log/logger.ts'
import { PerKeyThrottle } from '../../log/per-key-throttle.ts'
import { monotonicNow } from '../../util/clock.ts'

/** One warning a minute at most for each handler type whose calls outlive their attempts. */
export const LINGERING_WARNING_WINDOW_MS = 60_000

/**
 * Warns when an inline handler call runs on after its attempt ended (timed out or cancelled): the
 * handler ignores its `AbortSignal`, and its calls pile up beside the node's slots unseen. One line
 * a minute for each type, saying how many such calls run now and how many lines were held back.
 */
export function warnLingeringRuns(runs: LingeringRuns, log: Logger): void {
  const throttle = new PerKeyThrottle(LINGERING_WARNING_WINDOW_MS)
  runs.onLinger(({ type, taskId, lingering }) => {
    const passed = throttle.pass(type, monotonicNow())
    if (passed === undefined) return
    log.warn(
      { type, taskId, lingering, heldBack: passed.held },
      'inline handler ran on after its attempt ended: it ignores its AbortSignal (its calls pile up beside the slots)',
    )
  })
}
