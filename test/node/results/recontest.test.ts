import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  NOTICE_WINDOW_MS,
  RECONTEST_DELAY_MS,
  ResultPublisher,
} from '../../../src/node/results/result-publisher.ts'
import { TaskEvents } from '../../../src/node/story/task-events.ts'
import { MeshGossip, type NoticeItem } from '../../../src/node/wire/gossip.ts'
import { CONTESTED_TOPIC, RESULTS_TOPIC } from '../../../src/protocol/constants.ts'

/**
 * A publisher whose only parts in use are the mesh's gossip, the store's `refresh` (each
 * refreshed task put in `refreshed`) and the follower's `contestedSince` (answering `heard`):
 * what `contest` and `recontest` need.
 */
function publisher(
  sent: NoticeItem[][],
  events = new TaskEvents(),
  refreshed: string[] = [],
  heard: string[] = [],
): ResultPublisher {
  const results = { refresh: (taskId: string) => refreshed.push(taskId) } as never
  return new ResultPublisher({
    ...{ results, ledger: {} as never, thief: {} as never, completions: {} as never },
    follower: {
      contestedSince: async () => heard,
      relayHeard: () => {},
      stopRelays: () => {},
    } as never,
    events,
    notify: (batch) => sent.push(batch),
  })
}

const notice = (taskId: string, epoch: number) => ({ taskId, status: 'succeeded' as const, epoch })
const ids = (sent: NoticeItem[][]) =>
  sent.flat().map((i) => `${i.notice.taskId}${i.contested ? '!' : ''}${i.again ? ' again' : ''}`)

describe('ResultPublisher.recontest', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('sends the contested notices sent since a time again, once for peers back together, none once stopped', async () => {
    vi.useFakeTimers()
    const sent: NoticeItem[][] = []
    const events = new TaskEvents()
    const stored: string[] = []
    events.on((e) => {
      if (e.event === 'stored') stored.push(e.taskId)
    })
    const refreshed: string[] = []
    const heard: string[] = []
    const p = publisher(sent, events, refreshed, heard)
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
    await vi.advanceTimersByTimeAsync(1 + NOTICE_WINDOW_MS)
    expect(ids(sent)).toEqual(['t2! again'])
    expect(sent.flat()[0].notice).toEqual(notice('t2', 1_796_000_000_000))
    // …and reads that task's record from the mesh again: a record that beats it may be there
    expect(refreshed).toEqual(['t2'])

    // from further back: both, oldest first; each task's story tells of its notice once
    sent.length = 0
    p.recontest(0)
    await vi.advanceTimersByTimeAsync(RECONTEST_DELAY_MS + NOTICE_WINDOW_MS)
    expect(ids(sent)).toEqual(['t1! again', 't2! again'])
    expect(stored).toEqual(['t1', 't2'])
    expect(refreshed).toEqual(['t2', 't1', 't2'])

    // the tasks whose contested notices were heard here are read again too, each task once
    refreshed.length = 0
    heard.push('t9', 't1')
    p.recontest(0)
    await vi.advanceTimersByTimeAsync(RECONTEST_DELAY_MS + NOTICE_WINDOW_MS)
    expect(refreshed).toEqual(['t1', 't2', 't9'])

    // a node that stopped sends nothing again
    sent.length = 0
    p.recontest(0)
    p.flushNow()
    vi.advanceTimersByTime(RECONTEST_DELAY_MS + NOTICE_WINDOW_MS)
    expect(sent).toEqual([])
  })

  it('relays a record made elsewhere naming its executor, once: a later return does not send it as its own', async () => {
    vi.useFakeTimers()
    const sent: NoticeItem[][] = []
    const p = publisher(sent)
    p.relay({ ...notice('t1', 4), executor: 'maker' })
    vi.advanceTimersByTime(NOTICE_WINDOW_MS)
    expect(ids(sent)).toEqual(['t1! again'])
    expect(sent.flat()[0].notice).toEqual({ ...notice('t1', 4), executor: 'maker' })
    sent.length = 0
    p.recontest(0)
    await vi.advanceTimersByTimeAsync(RECONTEST_DELAY_MS + NOTICE_WINDOW_MS)
    expect(sent).toEqual([])
  })
})

describe('MeshGossip.publishNotices', () => {
  it('sends a notice sent again on the contested topic alone', async () => {
    const published: Array<[string, string[]]> = []
    const pubsub = {
      getSubscribers: () => ['someone'],
      publish: async (topic: string, bytes: Uint8Array) => {
        const { results } = JSON.parse(Buffer.from(bytes).toString()) as {
          results: Array<{ taskId: string }>
        }
        published.push([topic, results.map((r) => r.taskId)])
      },
    }
    const gossip = new MeshGossip({ services: { pubsub } } as never)
    gossip.publishNotices([
      { notice: notice('plain', 1), contested: false },
      { notice: notice('first', 2), contested: true },
      { notice: notice('again', 3), contested: true, again: true },
    ])
    await Promise.resolve()
    expect(published).toEqual([
      [RESULTS_TOPIC, ['plain', 'first']],
      [CONTESTED_TOPIC, ['first', 'again']],
    ])
  })
})
