import { afterEach, describe, expect, it, vi } from 'vitest'
import { PENDING_LOOK_MS, warnUnschedulable } from '../../src/cli/tasks/pending-states.ts'

describe('submit --wait: a look at the tasks not in yet', () => {
  afterEach(() => {
    vi.useRealTimers()
    vi.restoreAllMocks()
  })

  it('says once, on stderr, which no live node can run', async () => {
    vi.useFakeTimers()
    const said = vi.spyOn(console, 'error').mockImplementation(() => {})
    const states = { a: 'queued', b: 'unschedulable', c: 'unschedulable' } as const
    const target = {
      state: async (id: string) => ({ state: states[id as keyof typeof states], reason: `why ${id}` }),
    }
    warnUnschedulable(target, () => ['a', 'b', 'c'], new AbortController().signal)
    await vi.advanceTimersByTimeAsync(PENDING_LOOK_MS - 1)
    expect(said).not.toHaveBeenCalled()
    await vi.advanceTimersByTimeAsync(1)
    expect(said.mock.calls).toEqual([['still waiting: b: unschedulable (why b) (and 1 more)']])
  })
})
