import { describe, expect, it } from 'vitest'
import { lookUp } from '../../src/cli/tasks/result.ts'
import type { TaskStateReply } from '../../src/client/mesh-client.ts'
import { RemoteError } from '../../src/protocol/errors.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'

const RECORD = { taskId: 't', status: 'succeeded' } as ResultRecord

/** A client whose task ends between the first read and the state: its record appears then. */
function endingBetween(states: TaskStateReply[]) {
  let ended = false
  return {
    result: async () => (ended ? RECORD : undefined),
    state: async () => {
      ended = true
      return states.shift() ?? { state: 'done' as const }
    },
  }
}

describe('taskmesh result, looking a task up', () => {
  it('reads the record again when the state says the task ended after the first read', async () => {
    expect(await lookUp(endingBetween([{ state: 'done' }]), 't', 0)).toEqual({ record: RECORD })
  })

  it('tells a state other than done as it is', async () => {
    const target = { result: async () => undefined, state: async () => ({ state: 'running' as const }) }
    expect(await lookUp(target, 't', 0)).toEqual({ state: { state: 'running' } })
  })

  it('a node that began to stop ends the lookup with the state and its word, before or during the wait', async () => {
    const stopping = new RemoteError('ERR_STOPPING', 'the daemon is stopping')
    const refusing = (from: number) => {
      let reads = 0
      return {
        result: async () => {
          if (++reads > from) throw stopping
          return undefined
        },
        state: async () => ({ state: 'queued' as const }),
      }
    }
    for (const from of [0, 1]) {
      expect(await lookUp(refusing(from), 't', 60_000)).toEqual({ state: { state: 'queued' }, stopping })
    }
    const other = {
      result: async () => Promise.reject(new RemoteError('ERR_X', 'no')),
      state: async () => ({ state: 'queued' as const }),
    }
    await expect(lookUp(other, 't', 0)).rejects.toThrow('no')
  })
})
