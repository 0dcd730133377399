import type { ServerResponse } from 'node:http'

/** Longest the API waits, once it closes, for its open requests to be answered, ms. */
export const CLOSE_GRACE_MS = 1_000

/** The body of a `503` the API answers while its daemon stops. */
export function stoppingBody(id?: string): { error: string; code: string; taskId?: string } {
  const ask = id === undefined ? '' : ` (taskmesh result ${id})`
  return {
    error: `the daemon is stopping: ask another node of the mesh, or this one once it is back${ask}`,
    code: 'ERR_STOPPING',
    ...(id === undefined ? {} : { taskId: id }),
  }
}

/** The reason an open wait ends with when the API closes. */
export class StoppingError extends Error {
  override readonly name = 'StoppingError'
  readonly code = 'ERR_STOPPING'
  constructor() {
    super('the daemon is stopping')
  }
}

/**
 * The requests of the HTTP API still being answered, each with its deadline. While the daemon
 * stops (drains its runs) they are served on; when the API closes, every open wait ends with
 * {@link StoppingError} and is answered (a `503 ERR_STOPPING`, or a submission's ids with the
 * results in so far) before the connections are cut: a client is told the daemon stops, not
 * reset.
 */
export class LongWaits {
  private readonly open = new Map<ServerResponse, AbortController>()
  private stopped = false

  /** Requests waiting on a deadline now (long polls, result reads, submissions that wait). */
  get size(): number {
    return this.open.size
  }

  /** True once the API began to stop: a new submission is refused, a wait that ends empty says so. */
  get stopping(): boolean {
    return this.stopped
  }

  /** From now on the API is stopping (the daemon drains its runs); open waits go on. */
  beginStop(): void {
    this.stopped = true
  }

  /**
   * A signal that fires after `ms`, at once when the client hangs up before its answer (it ends a
   * long poll), or with {@link StoppingError} when the API closes. One controller and one timer,
   * cleared once the response closes: `AbortSignal.any` over a timeout signal cost each request
   * 0.06 ms, and an abort after every answer a DOMException.
   */
  deadline(res: ServerResponse, ms: number): AbortSignal {
    const deadline = new AbortController()
    const timer = setTimeout(() => deadline.abort(new DOMException('the wait ended', 'TimeoutError')), ms)
    timer.unref()
    this.open.set(res, deadline)
    res.once('close', () => {
      this.open.delete(res)
      clearTimeout(timer)
      if (!res.writableFinished) deadline.abort()
    })
    return deadline.signal
  }

  /**
   * Ends every open wait with {@link StoppingError}; resolves once each was answered (or its
   * client went), or after `graceMs`.
   */
  async close(graceMs = CLOSE_GRACE_MS): Promise<void> {
    this.stopped = true
    const answered = [...this.open.keys()].map(
      (res) => new Promise<void>((resolve) => (res.closed ? resolve() : res.once('close', resolve))),
    )
    for (const deadline of this.open.values()) deadline.abort(new StoppingError())
    if (answered.length === 0) return
    let timer: NodeJS.Timeout | undefined
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs)
    })
    await Promise.race([Promise.all(answered), grace])
    clearTimeout(timer)
  }
}
