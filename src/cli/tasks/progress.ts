import { Presets, SingleBar } from 'cli-progress'

/** How often plain progress lines are written (not on a terminal), ms. */
export const PLAIN_PROGRESS_MS = 1_000

/** What `submit --wait` tells its progress. */
export interface WaitProgress {
  /** A result landed. */
  landed(status: 'succeeded' | 'failed'): void
  /** The wait ended (every result landed, or the time ran out). */
  stop(): void
}

/** Where progress is written: stderr, or a stream that behaves like it. */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean }

const SILENT: WaitProgress = { landed: () => undefined, stop: () => undefined }

/**
 * Progress of a wait for `total` results on `stream`: a cli-progress bar on a terminal; otherwise
 * a plain line (`results 3/10 (1 failed)`) at most every {@link PLAIN_PROGRESS_MS}, and one when
 * the wait ends. Nothing for a single task or when `enabled` is false.
 */
export function waitProgress(
  total: number,
  opts: { enabled: boolean; stream?: ProgressStream; now?: () => number },
): WaitProgress {
  if (!opts.enabled || total < 2) return SILENT
  const stream = opts.stream ?? process.stderr
  let done = 0
  let failed = 0
  if (stream.isTTY === true) {
    const bar = new SingleBar(
      {
        stream: stream as NodeJS.WritableStream,
        format: 'results [{bar}] {value}/{total} | {failed} failed | {duration_formatted}',
        hideCursor: true,
      },
      Presets.shades_classic,
    )
    bar.start(total, 0, { failed })
    return {
      landed(status) {
        if (status === 'failed') failed++
        bar.increment(1, { failed })
      },
      stop: () => bar.stop(),
    }
  }
  const now = opts.now ?? Date.now
  let last = now()
  let written = -1
  const line = () => {
    written = done
    last = now()
    stream.write(`results ${done}/${total} (${failed} failed)\n`)
  }
  return {
    landed(status) {
      done++
      if (status === 'failed') failed++
      if (done === total || now() - last >= PLAIN_PROGRESS_MS) line()
    },
    stop() {
      if (written !== done) line()
    },
  }
}
