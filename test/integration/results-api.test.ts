import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { STRICT_PRIORITY } from '../../src/policy/priority.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import { deadline, sleepSpec } from './helpers.ts'

describe('the library API delivers results three ways', () => {
  let node: TaskmeshNode | undefined

  /** One slot and strict priority: tasks run one at a time, highest priority first. */
  const start = async () => {
    node = await TaskmeshNode.create({
      slots: 1,
      queuePolicy: STRICT_PRIORITY,
      backoff: { baseMs: 10, capMs: 50 },
    })
    return node
  }

  afterEach(async () => {
    await node?.stop()
    node = undefined
  })

  it('handle.result() resolves with the signed record of the run', async () => {
    const n = await start()
    const handle = await n.submit({ type: 'echo', input: { hello: ['mesh', 1] } })
    const r = await handle.result(deadline())
    expect(r).toMatchObject({
      v: 1,
      taskId: handle.id,
      status: 'succeeded',
      output: { hello: ['mesh', 1] },
      executor: n.peerId,
      owner: n.peerId,
    })
    expect(r.attempts).toHaveLength(1)
    expect(r.finishedAt).toBeGreaterThanOrEqual(r.startedAt)
    // Asking again, by id, gives the same record.
    expect(await n.waitResult(handle.id)).toEqual(r)
    expect(await n.getResult(handle.id)).toEqual(r)
  })

  it('results(ids) yields every id once, in the order the results land', async () => {
    const n = await start()
    // Ascending priorities: with one slot the last submitted runs first, so landing order is
    // the reverse of submission order (an iterator that simply followed `ids` would fail).
    const handles = await n.submitMany([0, 100, 200, 300].map((p, i) => sleepSpec(50, i, { priority: p })))
    const ids = handles.map((h) => h.id)
    const seen: string[] = []
    for await (const r of n.results(ids, deadline())) {
      expect(r.status).toBe('succeeded')
      seen.push(r.taskId)
    }
    expect(seen).toEqual([...ids].reverse())
  })

  it('submit(spec, { onResult }) calls back exactly once with the record', async () => {
    const n = await start()
    const calls: ResultRecord[] = []
    const handle = await n.submit(sleepSpec(30, 'called'), { onResult: (r) => calls.push(r) })
    const r = await handle.result(deadline())
    // A later task on the same single slot lands strictly after: by then the callback has run
    // once and must not run again.
    const later = await n.submit({ type: 'echo', input: 'later' })
    await later.result(deadline())
    expect(calls).toHaveLength(1)
    expect(calls[0]).toEqual(r)
    expect(calls[0].output).toBe('called')
  })

  it('a task that fails every attempt ends failed with each attempt and its error listed', async () => {
    const n = await start()
    const handle = await n.submit({ type: 'fail', input: { message: 'boom on purpose' }, maxAttempts: 2 })
    const r = await handle.result(deadline())
    expect(r.status).toBe('failed')
    expect(r.output).toBeUndefined()
    expect(r.error).toContain('boom on purpose')
    expect(r.attempts).toHaveLength(2)
    for (const attempt of r.attempts) {
      expect(attempt.executor).toBe(n.peerId)
      expect(attempt.error).toContain('boom on purpose')
    }
    expect(n.status().counters.retried).toBe(1)
  })

  it('an unrecoverable failure is not retried', async () => {
    const n = await start()
    const handle = await n.submit({
      type: 'fail',
      input: { message: 'cannot fix', unrecoverable: true },
      maxAttempts: 3,
    })
    const r = await handle.result(deadline())
    expect(r.status).toBe('failed')
    expect(r.attempts).toHaveLength(1)
    expect(r.error).toContain('cannot fix')
  })

  it('a task running past its timeoutMs fails with "timed out"', async () => {
    const n = await start()
    const handle = await n.submit(sleepSpec(5_000, null, { timeoutMs: 50, maxAttempts: 1 }))
    const r = await handle.result(deadline())
    expect(r.status).toBe('failed')
    expect(r.error).toMatch(/timed out/)
    expect(r.attempts).toHaveLength(1)
    expect(r.attempts[0].error).toMatch(/timed out/)
  })
})
