import { describe, expect, it, vi } from 'vitest'
import { createNodeCounters } from '../../../src/node/node-counters.ts'
import { COMPLETION_ATTEMPTS, CompletionReporter } from '../../../src/node/thief/completion-reporter.ts'
import { makeRecord, makeTask } from '../../protocol/fixtures.ts'

describe('CompletionReporter', () => {
  it('retries a failed report after a growing, jittered pause, then stops', async () => {
    const at: number[] = []
    const request = vi.fn(async () => {
      at.push(Date.now())
      throw new Error('owner unreachable')
    })
    const reporter = new CompletionReporter({
      steal: { request } as never,
      counters: createNodeCounters(),
      isStopped: () => false,
      random: () => 0.99,
    })
    reporter.report('owner', makeRecord(), new Uint8Array(10))
    await vi.waitFor(() => expect(request).toHaveBeenCalledTimes(COMPLETION_ATTEMPTS), { timeout: 3_000 })
    const gaps = at.slice(1).map((t, i) => t - at[i])
    // full jitter at 0.99 of 100, 200, 400 ms
    expect(gaps[0]).toBeGreaterThanOrEqual(90)
    expect(gaps[1]).toBeGreaterThanOrEqual(190)
    expect(gaps[2]).toBeGreaterThanOrEqual(390)
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(request).toHaveBeenCalledTimes(COMPLETION_ATTEMPTS)
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
    const answers: Array<() => void> = []
    const sent: string[][] = []
    const request = vi.fn(async (_owner: string, req: { completions: Array<{ taskId: string }> }) => {
      sent.push(req.completions.map((c) => c.taskId))
      await new Promise<void>((resolve) => answers.push(resolve))
      return { type: 'completed', requestId: 'r', outcomes: [] }
    })
    const reporter = new CompletionReporter({
      steal: { request } as never,
      counters: createNodeCounters(),
      isStopped: () => false,
    })
    const [r1, r2, r3, r4] = [1, 2, 3, 4].map((n) => makeRecord({ taskId: makeTask(n).id }))
    reporter.report('owner', r1, new Uint8Array(10))
    await Promise.resolve() // the microtask after the code that finished it: no timer
    expect(sent).toEqual([[r1.taskId]])
    reporter.report('owner', r2, new Uint8Array(10))
    reporter.report('owner', r3, new Uint8Array(10))
    await new Promise((resolve) => setImmediate(resolve))
    expect(sent).toHaveLength(1) // the first report is still in flight
    answers[0]()
    await vi.waitFor(() => expect(sent).toHaveLength(2))
    expect(sent[1]).toEqual([r2.taskId, r3.taskId])
    // another owner is not held up by this one
    reporter.report('other', r4, new Uint8Array(10))
    await Promise.resolve()
    expect(sent).toEqual([[r1.taskId], [r2.taskId, r3.taskId], [r4.taskId]])
    answers[1]()
    answers[2]()
  })
})
