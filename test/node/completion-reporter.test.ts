import { describe, expect, it, vi } from 'vitest'
import { COMPLETION_ATTEMPTS, CompletionReporter } from '../../src/node/completion-reporter.ts'
import { createNodeCounters } from '../../src/node/node-counters.ts'
import { makeRecord } from '../protocol/fixtures.ts'

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
})
