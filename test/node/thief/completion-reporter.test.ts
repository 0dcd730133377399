import { describe, expect, it, vi } from 'vitest'
import { createNodeCounters } from '../../../src/node/node-counters.ts'
import { COMPLETION_ATTEMPTS, CompletionReporter } from '../../../src/node/thief/completion-reporter.ts'
import { FRAME_BUDGET_BYTES, MAX_LEASES_PER_MESSAGE } from '../../../src/protocol/constants.ts'
import { makeRecord, makeTask } from '../../protocol/fixtures.ts'

type Sent = { completions: Array<{ taskId: string; record?: string }> }

/** A reporter whose owner holds each reply until the test answers it: what was sent, and the answers. */
function heldReplies() {
  const answers: Array<() => void> = []
  const sent: Sent[] = []
  const request = vi.fn(async (_owner: string, req: Sent) => {
    sent.push(req)
    await new Promise<void>((resolve) => answers.push(resolve))
    return { type: 'completed', requestId: 'r', outcomes: [] }
  })
  const reporter = new CompletionReporter({
    steal: { request } as never,
    counters: createNodeCounters(),
    isStopped: () => false,
  })
  return { answers, sent, reporter }
}

describe('CompletionReporter', () => {
  it('retries a failed report after a growing, jittered pause, then stops', async () => {
    const at: number[] = []
    const request = vi.fn(async () => {
      at.push(Date.now())
      throw new Error('owner unreachable')
    })
    // told once the retries are over (after the last try failed), not after some guessed wait
    const undelivered = Promise.withResolvers<{ taskId: string; detail: unknown }>()
    const record = makeRecord()
    const reporter = new CompletionReporter({
      steal: { request } as never,
      counters: createNodeCounters(),
      isStopped: () => false,
      random: () => 0.99,
      events: {
        emit: (taskId, event, detail) => {
          if (event === 'completion-undelivered') undelivered.resolve({ taskId, detail })
        },
      },
    })
    reporter.report('owner', record, new Uint8Array(10))
    expect(await undelivered.promise).toEqual({ taskId: record.taskId, detail: { owner: 'owner' } })
    // the reporter has given up: exactly its tries were made, none more
    expect(request).toHaveBeenCalledTimes(COMPLETION_ATTEMPTS)
    const gaps = at.slice(1).map((t, i) => t - at[i])
    // full jitter at 0.99 of 100, 200, 400 ms
    expect(gaps[0]).toBeGreaterThanOrEqual(90)
    expect(gaps[1]).toBeGreaterThanOrEqual(190)
    expect(gaps[2]).toBeGreaterThanOrEqual(390)
  })

  it('counts the completions the owner calls stale and says which', async () => {
    const onStale = vi.fn()
    const record = makeRecord()
    const request = vi.fn(async () => ({
      type: 'completed',
      requestId: 'r',
      outcomes: [{ taskId: record.taskId, outcome: 'stale' }],
    }))
    const counters = createNodeCounters()
    const reporter = new CompletionReporter({
      steal: { request } as never,
      counters,
      isStopped: () => false,
      onStale,
    })
    reporter.report('owner', record, new Uint8Array(10))
    await vi.waitFor(() => expect(onStale).toHaveBeenCalledWith(record.taskId, 'owner'))
    expect(counters.staleCompletions).toBe(1)
    expect(request).toHaveBeenCalledOnce()
  })

  it('sends a completion at once; those that come while a report is in flight go together when it is answered', async () => {
    const { answers, sent: frames, reporter } = heldReplies()
    const ids = () => frames.map((f) => f.completions.map((c) => c.taskId))
    const [r1, r2, r3, r4] = [1, 2, 3, 4].map((n) => makeRecord({ taskId: makeTask(n).id }))
    reporter.report('owner', r1, new Uint8Array(10))
    await Promise.resolve() // the microtask after the code that finished it: no timer
    expect(ids()).toEqual([[r1.taskId]])
    reporter.report('owner', r2, new Uint8Array(10))
    reporter.report('owner', r3, new Uint8Array(10))
    await new Promise((resolve) => setImmediate(resolve))
    expect(frames).toHaveLength(1) // the first report is still in flight
    answers[0]()
    await vi.waitFor(() => expect(frames).toHaveLength(2))
    expect(ids()[1]).toEqual([r2.taskId, r3.taskId])
    // another owner is not held up by this one
    reporter.report('other', r4, new Uint8Array(10))
    await Promise.resolve()
    expect(ids()).toEqual([[r1.taskId], [r2.taskId, r3.taskId], [r4.taskId]])
    answers[1]()
    answers[2]()
  })

  it('splits what queued meanwhile into frames the owner takes: a byte budget and a count', async () => {
    const { answers, sent, reporter } = heldReplies()
    const view = () =>
      sent.map((f) => ({
        ids: f.completions.map((c) => c.taskId),
        recordChars: f.completions.reduce((n, c) => n + (c.record?.length ?? 0), 0),
      }))
    const first = makeRecord({ taskId: makeTask(0).id })
    reporter.report('owner', first, new Uint8Array(10))
    await Promise.resolve()
    // while the first is in flight: 7 records of 30 KB (40 KB of base64 each), then 1,500 small ones
    const big = Array.from({ length: 7 }, (_, i) => makeRecord({ taskId: makeTask(1 + i).id }))
    const small = Array.from({ length: 1500 }, (_, i) => makeRecord({ taskId: makeTask(100 + i).id }))
    for (const r of big) reporter.report('owner', r, new Uint8Array(30 * 1024))
    for (const r of small) reporter.report('owner', r, new Uint8Array(10))
    answers[0]()
    await vi.waitFor(() => expect(sent.length).toBeGreaterThan(3))
    // every frame at once (none answered yet), each under the byte budget and the count
    await new Promise((resolve) => setImmediate(resolve))
    const frames = view().slice(1)
    expect(answers).toHaveLength(1 + frames.length)
    for (const f of frames) {
      expect(f.recordChars + 128 * f.ids.length).toBeLessThanOrEqual(FRAME_BUDGET_BYTES)
      expect(f.ids.length).toBeLessThanOrEqual(MAX_LEASES_PER_MESSAGE)
    }
    expect(frames.slice(0, 3).map((f) => f.ids.length)).toEqual([2, 2, 2])
    expect(frames.length).toBeGreaterThanOrEqual(6)
    // in order, none left out
    expect(frames.flatMap((f) => f.ids)).toEqual([...big, ...small].map((r) => r.taskId))
    // a completion that comes now waits for every one of those frames to be answered
    const late = makeRecord({ taskId: makeTask(5000).id })
    reporter.report('owner', late, new Uint8Array(10))
    await new Promise((resolve) => setImmediate(resolve))
    for (const answer of answers.slice(1, -1)) answer()
    await new Promise((resolve) => setImmediate(resolve))
    expect(view().flatMap((f) => f.ids)).not.toContain(late.taskId)
    answers[answers.length - 1]()
    await vi.waitFor(() => expect(view().at(-1)?.ids).toEqual([late.taskId]))
  })
})
