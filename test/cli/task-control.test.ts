import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../scripts/chaos/cli-process.ts'
import { EXIT_NO_RESULT } from '../../src/cli/exit-codes.ts'
import { TaskmeshClient } from '../../src/client/taskmesh-client.ts'
import { HttpApi } from '../../src/http/http-api.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { RemoteError } from '../../src/protocol/errors.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { taskId } from '../../src/task/task-id.ts'

/** A lone node with one slot: a long `sleep` keeps everything else queued. */
let node: TaskmeshNode
let api: HttpApi
let base: string
let dir: string
let client: TaskmeshClient

const unknownId = taskId(parseTaskSpec({ type: 'echo' }), 'nobody', 'never-submitted')

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${api.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

beforeAll(async () => {
  node = await TaskmeshNode.create({ slots: 1, unschedulableAfterMs: 500 })
  api = new HttpApi(node, { pollMs: 300 })
  base = await api.listen(0)
  dir = await mkdtemp(join(tmpdir(), 'taskmesh-graph-'))
  client = await TaskmeshClient.connect(node.multiaddrs[0])
})

afterAll(async () => {
  await client?.close()
  await api?.close()
  await node?.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('graphs, cancel, state and story over HTTP', () => {
  it('POST /tasks takes a graph (201 with ids and keys) and refuses a cycle (400, nothing queued)', async () => {
    const made = await call('POST', '/tasks', {
      tasks: [
        { key: 'one', type: 'echo', input: 1 },
        { key: 'two', type: 'echo', input: 2, dependsOn: ['one'] },
      ],
    })
    expect(made.status).toBe(201)
    const { ids, keys } = made.body as { ids: string[]; keys: Record<string, string> }
    expect(keys).toEqual({ one: ids[0], two: ids[1] })
    const two = await call('GET', `/tasks/${ids[1]}?wait=5000`)
    expect(two.status).toBe(200)
    expect((two.body as unknown as ResultRecord).output).toBe(2)

    const accepted = node.status().counters.accepted
    const cycle = await call('POST', '/tasks', {
      tasks: [
        { key: 'p', type: 'echo', dependsOn: ['q'] },
        { key: 'q', type: 'echo', dependsOn: ['p'] },
      ],
    })
    expect(cycle.status).toBe(400)
    expect(cycle.body.code).toBe('ERR_INVALID_TASK')
    expect(cycle.body.error).toMatch(/dependency cycle: (p → q → p|q → p → q)/)
    expect(cycle.body.field).toMatch(/^tasks\[[01]\]\.dependsOn$/)
    expect(node.status()).toMatchObject({ queued: 0, waiting: 0, counters: { accepted } })
  })

  it('GET /tasks/<id> answers 202 with the state, DELETE cancels, GET …/story tells what happened', async () => {
    const made = await call('POST', '/tasks', {
      tasks: [
        { key: 'long', type: 'sleep', input: { ms: 60_000 } },
        { key: 'next', type: 'echo', dependsOn: ['long'] },
      ],
    })
    const [longId, nextId] = (made.body as { ids: string[] }).ids
    const running = await call('GET', `/tasks/${longId}`)
    expect(running).toEqual({ status: 202, body: { taskId: longId, state: 'running', owner: node.peerId } })
    const waiting = await call('GET', `/tasks/${nextId}`)
    expect(waiting.status).toBe(202)
    expect(waiting.body).toMatchObject({ state: 'waiting', reason: `waiting for ${longId}` })

    const cancelled = await call('DELETE', `/tasks/${longId}`)
    expect(cancelled).toEqual({
      status: 200,
      body: { taskId: longId, outcome: 'cancelled', owner: node.peerId },
    })
    const record = await call('GET', `/tasks/${longId}?wait=5000`)
    expect(record.body).toMatchObject({ status: 'failed', error: 'cancelled' })
    const dependent = await call('GET', `/tasks/${nextId}?wait=5000`)
    expect(dependent.body).toMatchObject({
      status: 'failed',
      error: `dependency ${longId} failed: cancelled`,
    })

    const story = await call('GET', `/tasks/${longId}/story`)
    expect(story.status).toBe(200)
    const names = (story.body.events as Array<{ event: string }>).map((e) => e.event)
    expect(names).toEqual(expect.arrayContaining(['accepted', 'queued', 'started', 'cancelled', 'finished']))

    const unknown = await call('DELETE', `/tasks/${unknownId}`)
    expect(unknown.status).toBe(404)
    expect(unknown.body.code).toBe('ERR_UNKNOWN_TASK')
    expect((await call('GET', `/tasks/${unknownId}`)).status).toBe(404)
    expect((await call('PUT', `/tasks/${unknownId}`)).status).toBe(405)
  })

  it('GET /status and GET /tasks/<id> report an unschedulable task with the reason', async () => {
    const made = await call('POST', '/tasks', { type: 'echo', resources: { labels: ['gpu'] } })
    const [id] = (made.body as { ids: string[] }).ids
    await expect
      .poll(async () => (await call('GET', '/status')).body.unschedulable, { timeout: 5_000 })
      .toEqual([
        { id, reasons: [`${node.peerId} (this node): label "gpu" missing`], since: expect.any(Number) },
      ])
    const state = await call('GET', `/tasks/${id}`)
    expect(state).toEqual({
      status: 202,
      body: {
        taskId: id,
        state: 'unschedulable',
        reason: `${node.peerId} (this node): label "gpu" missing`,
        owner: node.peerId,
      },
    })
    await node.cancel(id)
  })
})

describe('graphs, cancel, state and story from the CLI and the light client', () => {
  it('taskmesh submit --file takes a graph; result prints the state; cancel and story work', async () => {
    const file = join(dir, 'graph.json')
    await writeFile(
      file,
      JSON.stringify([
        { key: 'a', type: 'echo', input: 'a' },
        { key: 'b', type: 'echo', input: 'b', dependsOn: ['a'] },
      ]),
    )
    const submitted = await runCli([
      'submit',
      '--file',
      file,
      '--api',
      base,
      '--api-token',
      api.token,
      '--wait',
      '--wait-ms',
      '10000',
    ])
    expect(submitted.code, submitted.stderr).toBe(0)
    const [idA, idB, recA, recB] = submitted.lines
    expect(JSON.parse(recA)).toMatchObject({ taskId: idA, status: 'succeeded', output: 'a' })
    expect(JSON.parse(recB)).toMatchObject({ taskId: idB, status: 'succeeded', output: 'b' })

    const [sleeper] = await node.submitMany([{ type: 'sleep', input: { ms: 60_000 } }])
    // the token may come from the environment instead of the flag
    const pending = await runCli(['result', sleeper.id, '--api', base], 20_000, {
      TASKMESH_API_TOKEN: api.token,
    })
    expect(pending.code, pending.stderr).toBe(EXIT_NO_RESULT)
    expect(JSON.parse(pending.stdout)).toEqual({ taskId: sleeper.id, state: 'running' })
    expect(pending.stderr).toContain('running')

    const cancel = await runCli(['cancel', sleeper.id, '--api', base, '--api-token', api.token])
    expect(cancel.code, cancel.stderr).toBe(0)
    expect(JSON.parse(cancel.stdout)).toEqual({
      taskId: sleeper.id,
      outcome: 'cancelled',
      owner: node.peerId,
    })
    const story = await runCli(['story', sleeper.id, '--api', base, '--api-token', api.token])
    expect(story.code, story.stderr).toBe(0)
    expect(story.lines.map((l) => JSON.parse(l).event)).toEqual(
      expect.arrayContaining(['started', 'cancelled']),
    )

    const cycle = join(dir, 'cycle.json')
    await writeFile(
      cycle,
      JSON.stringify([
        { key: 'x', type: 'echo', dependsOn: ['y'] },
        { key: 'y', type: 'echo', dependsOn: ['x'] },
      ]),
    )
    const bad = await runCli(['submit', '--file', cycle, '--api', base, '--api-token', api.token])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/dependency cycle: (x → y → x|y → x → y) \(ERR_INVALID_TASK\)/)
    const badKey = join(dir, 'bad-key.json')
    await writeFile(badKey, JSON.stringify([{ key: '', type: 'echo' }]))
    const refused = await runCli(['submit', '--file', badKey, '--api', base, '--api-token', api.token])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('tasks[0].key: must be a string')
  })

  it('submit --wait of a task no node can run says how it stands, not only that it is pending', async () => {
    const args = ['submit', 'echo', '--labels', 'nosuch', '--api', base, '--api-token', api.token]
    const run = await runCli([...args, '--wait', '--wait-ms', '2000'])
    expect(run.code, run.stderr).toBe(EXIT_NO_RESULT)
    const [id, line] = run.lines
    const reason = `${node.peerId} (this node): label "nosuch" missing`
    expect(JSON.parse(line)).toMatchObject({ taskId: id, status: 'pending', state: 'unschedulable', reason })
    expect(run.stderr).toContain(
      `1 of 1 results did not land within 2000 ms (${id}: unschedulable (${reason}))`,
    )
    await node.cancel(id)
  })

  it('the light client cancels, reads the state and the story over the submit protocol', async () => {
    const [sleeper] = await node.submitMany([{ type: 'sleep', input: { ms: 60_000 } }])
    expect(await client.state(sleeper.id)).toEqual({ state: 'running', owner: node.peerId })
    expect(await client.cancel(sleeper.id)).toEqual({
      taskId: sleeper.id,
      outcome: 'cancelled',
      owner: node.peerId,
    })
    expect(await client.state(sleeper.id)).toEqual({ state: 'done', owner: node.peerId })
    expect((await client.story(sleeper.id)).map((e) => e.event)).toContain('cancelled')
    const err = await client.cancel(unknownId).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RemoteError)
    expect((err as RemoteError).code).toBe('ERR_UNKNOWN_TASK')
  })
})
