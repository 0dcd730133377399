import { describe, expect, it } from 'vitest'
import { parseExecutionLog } from '../../scripts/chaos/execution-log.ts'

const line = (event: string, at: number, pid: number, taskId: string) =>
  JSON.stringify({ event, at, pid, taskId, key: `k-${taskId}` })

describe('parseExecutionLog', () => {
  it('pairs starts with ends per life of the node; a run whose life died has no end', () => {
    const text = [
      line('start', 1, 10, 'a'),
      line('start', 2, 10, 'b'),
      line('end', 3, 10, 'a'),
      // the node was killed (b never ended) and restarted: a new life runs b again
      line('start', 5, 11, 'b'),
      line('end', 6, 11, 'b'),
      '{"event":"sta', // a torn line is skipped
      '',
    ].join('\n')
    expect(parseExecutionLog('n0', text)).toEqual([
      { node: 'n0', incarnation: 10, taskId: 'a', key: 'k-a', startedAt: 1, endedAt: 3 },
      { node: 'n0', incarnation: 10, taskId: 'b', key: 'k-b', startedAt: 2 },
      { node: 'n0', incarnation: 11, taskId: 'b', key: 'k-b', startedAt: 5, endedAt: 6 },
    ])
  })
})
