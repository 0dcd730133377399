import { afterEach, describe, expect, it, vi } from 'vitest'
import { NOTICE_TALLY_WINDOW_MS, NoticeTally } from '../../../src/node/wire/notice-tally.ts'

describe('NoticeTally', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('lists the signers of the most entries over the last one to two minutes, most first', () => {
    vi.useFakeTimers({ toFake: ['performance'] })
    const tally = new NoticeTally()
    for (let i = 0; i < 3; i++) tally.note('busy', 500)
    tally.note('honest', 2)
    tally.note('honest', 1)
    expect(tally.top(5)).toEqual([
      { peerId: 'busy', messages: 3, entries: 1_500 },
      { peerId: 'honest', messages: 2, entries: 3 },
    ])
    expect(tally.top(1).map((t) => t.peerId)).toEqual(['busy'])

    // the next minute: the last one still counts beside it
    vi.advanceTimersByTime(NOTICE_TALLY_WINDOW_MS)
    tally.note('honest', 2_000)
    expect(tally.top(5).map((t) => [t.peerId, t.entries])).toEqual([
      ['honest', 2_003],
      ['busy', 1_500],
    ])
    // a minute on: only what came since the last roll
    vi.advanceTimersByTime(NOTICE_TALLY_WINDOW_MS)
    expect(tally.top(5).map((t) => [t.peerId, t.entries])).toEqual([['honest', 2_000]])
    // long quiet: nothing
    vi.advanceTimersByTime(3 * NOTICE_TALLY_WINDOW_MS)
    expect(tally.top(5)).toEqual([])
  })
})
