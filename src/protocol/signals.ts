/**
 * A signal that aborts after `ms`, or as soon as any of `others` aborts. Unlike
 * `AbortSignal.any([s, AbortSignal.timeout(ms)])` it keeps working on Node 20, where the
 * composite signal can lose its timeout source to garbage collection and then never fire: here
 * the pending timer itself holds the controller.
 */
export function deadlineSignal(ms: number, ...others: Array<AbortSignal | undefined>): AbortSignal {
  const controller = new AbortController()
  const timer = setTimeout(
    () => controller.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')),
    ms,
  )
  timer.unref?.()
  for (const other of others) {
    if (other === undefined) continue
    if (other.aborted) {
      clearTimeout(timer)
      controller.abort(other.reason)
      break
    }
    other.addEventListener(
      'abort',
      () => {
        clearTimeout(timer)
        controller.abort(other.reason)
      },
      { once: true },
    )
  }
  controller.signal.addEventListener('abort', () => clearTimeout(timer), { once: true })
  return controller.signal
}
