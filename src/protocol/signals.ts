/**
 * A signal that aborts after `ms`, or as soon as any of `others` aborts. Unlike
 * `AbortSignal.any([s, AbortSignal.timeout(ms)])` it keeps working on Node 20, where the
 * composite signal can lose its timeout source to garbage collection and then never fire: here
 * the pending timer itself holds the controller. Once it aborts, it removes its listeners from
 * `others`, so a long-lived signal shared by many deadlines does not collect them.
 */
export function deadlineSignal(ms: number, ...others: Array<AbortSignal | undefined>): AbortSignal {
  const controller = new AbortController()
  const sources = others.filter((o): o is AbortSignal => o !== undefined)
  const already = sources.find((o) => o.aborted)
  if (already !== undefined) {
    controller.abort(already.reason)
    return controller.signal
  }
  const follow = (source: AbortSignal) => () => controller.abort(source.reason)
  const listeners = sources.map((source) => [source, follow(source)] as const)
  const timer = setTimeout(
    () => controller.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')),
    ms,
  )
  timer.unref?.()
  for (const [source, listener] of listeners) source.addEventListener('abort', listener, { once: true })
  // once aborted, for whatever cause, nothing is left behind on a long-lived source signal
  controller.signal.addEventListener(
    'abort',
    () => {
      clearTimeout(timer)
      for (const [source, listener] of listeners) source.removeEventListener('abort', listener)
    },
    { once: true },
  )
  return controller.signal
}
