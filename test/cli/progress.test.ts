import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { PLAIN_PROGRESS_MS, type ProgressStream, waitProgress } from '../../src/cli/tasks/progress.ts'

/** A stream that keeps what is written; a terminal when `tty` (with the cursor calls cli-progress makes). */
function capture(tty: boolean) {
  const stream = new PassThrough() as PassThrough & Record<string, unknown>
  let text = ''
  stream.on('data', (d: Buffer) => {
    text += d.toString()
  })
  if (tty) {
    Object.assign(stream, {
      isTTY: true,
      columns: 100,
      cursorTo: () => true,
      clearLine: () => true,
      moveCursor: () => true,
      clearScreenDown: () => true,
    })
  }
  return { stream: stream as unknown as ProgressStream, text: () => text }
}

describe('submit --wait progress', () => {
  it('not on a terminal: a plain line at most every second, and one at the end', () => {
    let now = 0
    const out = capture(false)
    const progress = waitProgress(5, { enabled: true, stream: out.stream, now: () => now })
    progress.landed('succeeded')
    progress.landed('failed') // within the second: no line
    now += PLAIN_PROGRESS_MS
    progress.landed('succeeded')
    now += 10
    progress.landed('succeeded')
    progress.stop() // the wait ended with one result missing
    expect(out.text()).toBe('results 3/5 (1 failed)\nresults 4/5 (1 failed)\n')
  })

  it('writes the last line once when every result landed', () => {
    const out = capture(false)
    const progress = waitProgress(2, { enabled: true, stream: out.stream, now: () => 0 })
    progress.landed('succeeded')
    progress.landed('succeeded')
    progress.stop()
    expect(out.text()).toBe('results 2/2 (0 failed)\n')
  })

  it('on a terminal: a cli-progress bar with the count and the failures', () => {
    const out = capture(true)
    const progress = waitProgress(4, { enabled: true, stream: out.stream })
    for (const status of ['succeeded', 'failed', 'succeeded', 'succeeded'] as const) progress.landed(status)
    progress.stop()
    expect(out.text()).toMatch(/results \[[█░]+\] 4\/4 \| 1 failed \| \d+s/)
  })

  it('shows nothing for one task, or when turned off', () => {
    const out = capture(false)
    for (const p of [
      waitProgress(1, { enabled: true, stream: out.stream }),
      waitProgress(3, { enabled: false, stream: out.stream }),
    ]) {
      p.landed('succeeded')
      p.stop()
    }
    expect(out.text()).toBe('')
  })
})
