import { describe, expect, it } from 'vitest'
import {
  checkHistory,
  type Execution,
  type Fault,
  type History,
  type RecordView,
  type SubmittedTask,
} from '../../src/chaos/history.ts'

const NODES = ['a', 'b', 'c']

function task(key: string, node = 'a', submittedAt = 1_000): SubmittedTask {
  return { key, taskId: `id-${key}`, node, submittedAt, expectedOutput: `ran ${key}` }
}

function run(key: string, node: string, startedAt: number, endedAt?: number, incarnation = 1): Execution {
  return { node, incarnation, taskId: `id-${key}`, key, startedAt, endedAt }
}

function record(key: string, extra: Partial<RecordView> = {}): RecordView {
  return {
    taskId: `id-${key}`,
    status: 'succeeded',
    output: `ran ${key}`,
    executor: 'b',
    owner: 'a',
    epoch: 1,
    ...extra,
  }
}

function fault(node: string, at: number, kind: Fault['kind'] = 'kill', recoveredAt?: number): Fault {
  return { kind, node, incarnation: 1, at, ...(recoveredAt === undefined ? {} : { recoveredAt }) }
}

/** Every node reads `records` (by key), unless `perNode` says otherwise for a node. */
function history(
  tasks: SubmittedTask[],
  executions: Execution[],
  faults: Fault[],
  records: RecordView[],
  perNode: Record<string, RecordView[]> = {},
): History {
  const reads = Object.fromEntries(
    NODES.map((n) => [n, Object.fromEntries((perNode[n] ?? records).map((r) => [r.taskId, r]))]),
  )
  return { tasks, executions, faults, reads, settleMs: 500 }
}

describe('checkHistory classifies every accepted task', () => {
  const cases: Array<{ name: string; history: History; outcome: string; reason?: RegExp }> = [
    {
      name: 'ran once, same record everywhere, expected output → ok',
      history: history([task('t')], [run('t', 'b', 1_100, 1_200)], [], [record('t')]),
      outcome: 'ok',
    },
    {
      name: 'no record anywhere → lost',
      history: history([task('t')], [run('t', 'b', 1_100, 1_200)], [], []),
      outcome: 'lost',
      reason: /no node has a record/,
    },
    {
      name: 'never ran, no record → lost',
      history: history([task('t')], [], [], []),
      outcome: 'lost',
      reason: /never ran/,
    },
    {
      name: 'ran twice, its executor killed mid-run → duplicated',
      history: history(
        [task('t')],
        [run('t', 'b', 1_100), run('t', 'c', 3_000, 3_100)],
        [fault('b', 1_150)],
        [record('t', { executor: 'c', epoch: 2 })],
      ),
      outcome: 'duplicated',
    },
    {
      name: 'ran twice, its executor frozen just after the run ended (within the settle window) → duplicated',
      history: history(
        [task('t')],
        [run('t', 'b', 1_100, 1_200), run('t', 'c', 3_000, 3_100)],
        [fault('b', 1_600, 'freeze')],
        [record('t', { executor: 'c', epoch: 2 })],
      ),
      outcome: 'duplicated',
    },
    {
      name: 'ran twice, its owner (the accepting node) killed while it was pending → duplicated',
      history: history(
        [task('t')],
        [run('t', 'b', 1_100, 1_200), run('t', 'c', 3_000, 3_100)],
        [fault('a', 1_150)],
        [record('t', { executor: 'c', epoch: 2 })],
      ),
      outcome: 'duplicated',
    },
    {
      name: 'ran twice, its executor frozen before the submission and thawed while it was pending (an offer reached it frozen) → duplicated',
      history: history(
        [task('t')],
        [run('t', 'a', 2_000, 2_100), run('t', 'b', 2_500, 2_600)],
        [fault('b', 900, 'freeze', 2_400)],
        [record('t', { executor: 'a', epoch: 2 })],
      ),
      outcome: 'duplicated',
    },
    {
      name: 'ran twice with no failure at all → unexpected',
      history: history(
        [task('t')],
        [run('t', 'b', 1_100, 1_200), run('t', 'c', 3_000, 3_100)],
        [],
        [record('t', { executor: 'c', epoch: 2 })],
      ),
      outcome: 'unexpected',
      reason: /ran 2× with no failure/,
    },
    {
      name: 'ran twice; the only failure hit an uninvolved node → unexpected',
      history: history(
        [task('t', 'a')],
        [run('t', 'b', 1_100, 1_200), run('t', 'b', 3_000, 3_100)],
        [fault('c', 1_150)],
        [record('t', { executor: 'b', epoch: 2 })],
      ),
      outcome: 'unexpected',
      reason: /no failure/,
    },
    {
      name: 'ran twice; its executor failed long after the result landed → unexpected',
      history: history(
        [task('t')],
        [run('t', 'b', 1_100, 1_200), run('t', 'c', 9_000, 9_100)],
        [fault('b', 5_000)],
        [record('t', { executor: 'c', epoch: 2 })],
      ),
      outcome: 'unexpected',
      reason: /no failure/,
    },
    {
      name: 'ran twice; the failure came before it was submitted → unexpected',
      history: history(
        [task('t', 'a', 2_000)],
        [run('t', 'b', 2_100, 2_200), run('t', 'b', 3_000, 3_100)],
        [fault('b', 1_500, 'kill', 1_800)], // back before the submission
        [record('t', { epoch: 2 })],
      ),
      outcome: 'unexpected',
      reason: /no failure/,
    },
    {
      name: 'a wrong output → unexpected',
      history: history([task('t')], [run('t', 'b', 1_100, 1_200)], [], [record('t', { output: 'ran u' })]),
      outcome: 'unexpected',
      reason: /output "ran u", expected "ran t"/,
    },
    {
      name: 'a failed record → unexpected',
      history: history([task('t')], [run('t', 'b', 1_100, 1_200)], [], [record('t', { status: 'failed' })]),
      outcome: 'unexpected',
      reason: /status failed/,
    },
    {
      name: 'records that disagree between nodes → unexpected',
      history: history([task('t')], [run('t', 'b', 1_100, 1_200)], [], [record('t')], {
        c: [record('t', { executor: 'c', epoch: 2 })],
      }),
      outcome: 'unexpected',
      reason: /records disagree/,
    },
    {
      name: 'a node without the record others read → unexpected',
      history: (() => {
        const h = history([task('t')], [run('t', 'b', 1_100, 1_200)], [], [record('t')])
        h.reads.c['id-t'] = undefined
        return h
      })(),
      outcome: 'unexpected',
      reason: /no record at c/,
    },
    {
      name: 'a record of another task read under this id → unexpected',
      history: (() => {
        const h = history([task('t')], [run('t', 'b', 1_100, 1_200)], [], [record('t')])
        h.reads.c['id-t'] = { ...record('t'), taskId: 'id-x' }
        return h
      })(),
      outcome: 'unexpected',
      reason: /c reads a record of id-x/,
    },
    {
      name: 'a record whose handler never ran → unexpected',
      history: history([task('t')], [], [], [record('t')]),
      outcome: 'unexpected',
      reason: /never ran/,
    },
  ]

  for (const c of cases) {
    it(c.name, () => {
      const verdict = checkHistory(c.history)
      const all = [...verdict.problems, ...verdict.duplicates]
      expect(verdict.counts[c.outcome as keyof typeof verdict.counts], JSON.stringify(all)).toBe(1)
      const total = Object.values(verdict.counts).reduce((x, y) => x + y, 0)
      expect(total).toBe(1)
      if (c.reason !== undefined) expect(all[0]?.reasons.join('; ')).toMatch(c.reason)
    })
  }

  it('a run or a record of something never submitted is unexpected, beside the accepted tasks', () => {
    const h = history(
      [task('t')],
      [run('t', 'b', 1_100, 1_200), run('stray', 'c', 1_300, 1_400)],
      [],
      [record('t'), record('ghost')],
    )
    const verdict = checkHistory(h)
    expect(verdict.counts).toEqual({ ok: 1, duplicated: 0, lost: 0, unexpected: 2 })
    expect(verdict.problems.map((p) => p.reasons[0]).sort()).toEqual([
      'ran on c, never submitted',
      'record at a, never submitted',
    ])
  })

  it('judges a task only by the nodes that read it', () => {
    const h = history([task('t')], [run('t', 'b', 1_100, 1_200)], [], [record('t')], { c: [] })
    expect(checkHistory(h).counts.ok).toBe(1)
  })

  it('counts each class over many tasks', () => {
    const tasks = ['ok', 'dup', 'lost', 'bad'].map((k) => task(k))
    const h = history(
      tasks,
      [
        run('ok', 'b', 1_100, 1_200),
        run('dup', 'b', 1_100),
        run('dup', 'c', 2_000, 2_100),
        run('bad', 'c', 1_100, 1_200),
        run('bad', 'c', 4_000, 4_100),
      ],
      [fault('b', 1_150)],
      [record('ok'), record('dup', { executor: 'c' }), record('bad')],
    )
    const verdict = checkHistory(h)
    expect(verdict.counts).toEqual({ ok: 1, duplicated: 1, lost: 1, unexpected: 1 })
    expect(verdict.duplicates.map((d) => d.key)).toEqual(['dup'])
    expect(verdict.problems.map((p) => [p.key, p.outcome])).toEqual([
      ['lost', 'lost'],
      ['bad', 'unexpected'],
    ])
  })
})
