import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  NOTICE_WINDOW_MS,
  RECONTEST_DELAY_MS,
  ResultPublisher,
} from '../../../src/node/results/result-publisher.ts'
import { TaskEvents } from '../../../src/node/story/task-events.ts'
import type { NoticeItem } from '../../../src/node/wire/gossip.ts'

/** A publisher whose only part in use is the mesh's gossip (`contest` and `recontest` need no other). */
function publisher(sent: NoticeItem[][]): ResultPublisher {
  return new ResultPublisher({
    ...{ results: {} as never, ledger: {} as never, thief: {} as never, completions: {} as never },
    follower: {} as never,
    events: new TaskEvents(),
    notify: (batch) => sent.push(batch),
  })
}

const notice = (taskId: string, epoch: number) => ({ taskId, status: 'succeeded' as const, epoch })
const ids = (sent: NoticeItem[][]) => sent.flat().map((i) => `${i.notice.taskId}${i.contested ? '!' : ''}`)

describe('ResultPublisher.recontest', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('sends the contested notices sent since a time again, once for peers back together, none once stopped', () => {
    vi.useFakeTimers()
    const sent: NoticeItem[][] = []
    const p = publisher(sent)
    p.contest(notice('t1', 2))
    vi.advanceTimersByTime(NOTICE_WINDOW_MS)
    const between = Date.now() + 500
    vi.advanceTimersByTime(1_000)
    p.contest(notice('t2', 1_796_000_000_000))
    vi.advanceTimersByTime(NOTICE_WINDOW_MS)
    expect(ids(sent)).toEqual(['t1!', 't2!'])

    // two peers back within the delay: one sending, of what went out since the earlier of their times
    sent.length = 0
    p.recontest(between + 200)
    p.recontest(between)
    vi.advanceTimersByTime(RECONTEST_DELAY_MS - 1)
    expect(sent).toEqual([])
    vi.advanceTimersByTime(1 + NOTICE_WINDOW_MS)
    expect(ids(sent)).toEqual(['t2!'])
    expect(sent.flat()[0].notice).toEqual(notice('t2', 1_796_000_000_000))

    // from further back: both, oldest first
    sent.length = 0
    p.recontest(0)
    vi.advanceTimersByTime(RECONTEST_DELAY_MS + NOTICE_WINDOW_MS)
    expect(ids(sent)).toEqual(['t1!', 't2!'])

    // a node that stopped sends nothing again
    sent.length = 0
    p.recontest(0)
    p.flushNow()
    vi.advanceTimersByTime(RECONTEST_DELAY_MS + NOTICE_WINDOW_MS)
    expect(sent).toEqual([])
  })
})
