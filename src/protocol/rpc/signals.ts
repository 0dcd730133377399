import { onAbort } from '../../util/abort-fanout.ts'

/** A deadline signal and the means to end it early (see {@link deadline}). */
export interface Deadline {
  /** Aborts after the deadline, or as soon as one of the other signals aborts. */
  readonly signal: AbortSignal
  /**
   * Ends the deadline without aborting: stops its timer and removes its listeners from the other
   * signals. Call it once the work the deadline guards has settled. Safe to call twice.
   */
  clear(): void
}

/**
 * A signal that aborts after `ms`, or as soon as any of `others` aborts. Unlike
 * `AbortSignal.any([s, AbortSignal.timeout(ms)])` it keeps working on Node 20, where the
 * composite signal can lose its timeout source to garbage collection and then never fire: here
 * the pending timer itself holds the controller. It listens to `others` until it aborts or is
 * cleared, so a long-lived signal shared by many deadlines keeps no listener of one that ended:
 * clear it when the work settles (or use {@link withDeadline}, which does).
 */
export function deadline(ms: number, ...others: Array<AbortSignal | undefined>): Deadline {
  const controller = new AbortController()
  const sources = others.filter((o): o is AbortSignal => o !== undefined)
  const already = sources.find((o) => o.aborted)
  if (already !== undefined) {
    controller.abort(already.reason)
    return { signal: controller.signal, clear: () => undefined }
  }
  const timer = setTimeout(
    () => controller.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')),
    ms,
  )
  timer.unref?.()
  // through one listener per source (`onAbort`): a source shared by thousands of deadlines
  const unlisten = sources.map((source) => onAbort(source, () => controller.abort(source.reason)))
  const clear = (): void => {
    clearTimeout(timer)
    for (const stop of unlisten) stop()
  }
  // once aborted, for whatever cause, nothing is left behind on a long-lived source signal
  controller.signal.addEventListener('abort', clear, { once: true })
  return { signal: controller.signal, clear }
}

/** Runs `work` under a {@link deadline} and clears the deadline once `work` settles. */
export async function withDeadline<T>(
  ms: number,
  others: Array<AbortSignal | undefined>,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const d = deadline(ms, ...others)
  try {
    return await work(d.signal)
  } finally {
    d.clear()
  }
}
