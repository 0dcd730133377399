/** Calls `fn` once, `ms` after the last of a burst of calls (the timer does not keep the process alive). */
export function debounce(fn: () => void, ms: number): () => void {
  let timer: NodeJS.Timeout | undefined
  return () => {
    clearTimeout(timer)
    timer = setTimeout(fn, ms)
    timer.unref()
  }
}
