import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpApi } from '../../src/http/http-api.ts'
import { opsRoutes } from '../../src/http/ops-routes.ts'
import { createLogger } from '../../src/log/logger.ts'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { startLocalMesh } from '../../src/simulation/mesh.ts'
import { sleepSpec, stopAll, waitAll, waitFor } from './helpers.ts'

/** One sample of Prometheus' text format: `name{labels} value`. */
interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parses Prometheus' text exposition format (what prom-client writes), checking every line. */
function parseMetrics(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type !== null) {
      types.set(type[1], type[2])
      continue
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) throw new Error(`not a sample line: ${line}`)
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]))
    samples.push({ name: m[1], labels, value: Number(m[3]) })
  }
  return { samples, types }
}

/** The value of one sample (0 when absent), matching every label given. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )
  return found?.value ?? 0
}

describe('metrics, health and logs of a running node', () => {
  let nodes: TaskmeshNode[] = []
  let api: HttpApi
  let url: string
  const lines: Array<Record<string, unknown>> = []

  beforeAll(async () => {
    const logger = createLogger({
      level: 'info',
      format: 'json',
      destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
    })
    nodes = await startLocalMesh({
      nodes: 2,
      slots: 1,
      nodeOptions: (i) => (i === 0 ? { logger, labels: ['owner'] } : { labels: ['thief'] }),
    })
    api = new HttpApi(nodes[0], { routes: opsRoutes(nodes[0]) })
    url = await api.listen(0)
  })
  afterAll(async () => {
    await api.close()
    await stopAll(nodes)
  })

  it('GET /metrics: counters, gauges and histograms moved as tasks ran, stole and retried', async () => {
    const a = nodes[0]
    const before = parseMetrics(await (await fetch(`${url}/metrics`)).text()).samples
    expect(value(before, 'taskmesh_tasks_accepted_total')).toBe(0)
    // only the other node offers the label: it steals the short ones
    const handles = await a.submitMany(
      [1, 2, 3].map((i) => sleepSpec(20, i, { resources: { labels: ['thief'] } })),
    )
    await waitFor(() => nodes[1].status().counters.tasksStolen > 0, 10_000, 'nothing was stolen')
    // only the owner offers the label: both attempts run there
    const failing = await a.submit({
      ...{ type: 'fail', input: { message: 'boom' }, maxAttempts: 2 },
      resources: { labels: ['owner'] },
    })
    await waitAll(a, [...handles.map((h) => h.id), failing.id])

    const res = await fetch(`${url}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4')
    const { samples, types } = parseMetrics(await res.text())
    expect(value(samples, 'taskmesh_tasks_accepted_total')).toBe(4)
    expect(value(samples, 'taskmesh_task_retries_total')).toBe(1)
    expect(value(samples, 'taskmesh_tasks_granted_total')).toBeGreaterThan(0)
    expect(value(samples, 'taskmesh_tasks_finished_total', { status: 'failed' })).toBe(1)
    expect(value(samples, 'taskmesh_submit_to_result_seconds_count')).toBe(4)
    expect(value(samples, 'taskmesh_run_seconds_count', { outcome: 'failed' })).toBeGreaterThanOrEqual(1)
    expect(value(samples, 'taskmesh_queue_wait_seconds_count')).toBeGreaterThan(0)
    expect(value(samples, 'taskmesh_slots')).toBe(1)
    expect(value(samples, 'taskmesh_peers')).toBe(1)
    expect(
      value(samples, 'taskmesh_protocol_bytes_total', { protocol: 'steal', direction: 'out' }),
    ).toBeGreaterThan(0)
    expect(value(samples, 'taskmesh_signatures_total', { kind: 'grant', op: 'sign' })).toBeGreaterThan(0)
    // one unit a metric: bytes apart from calls, the wire apart from the protocols
    expect(value(samples, 'taskmesh_connection_bytes_total', { direction: 'out' })).toBeGreaterThan(0)
    expect(
      value(samples, 'taskmesh_datastore_bytes_written_total', { namespace: 'records' }),
    ).toBeGreaterThan(0)
    expect(types.get('taskmesh_journal_bytes_total')).toBe('counter')
    const mixed = samples.filter(
      (s) =>
        s.labels.protocol === 'connections' ||
        s.labels.op === 'bytesWritten' ||
        (s.name === 'taskmesh_journal_total' && s.labels.what === 'bytes'),
    )
    expect(mixed).toEqual([])
    expect(types.get('taskmesh_tasks_accepted_total')).toBe('counter')
    expect(types.get('taskmesh_tasks_queued')).toBe('gauge')
    expect(types.get('taskmesh_submit_to_result_seconds')).toBe('histogram')
    for (const s of samples) expect(s.name.startsWith('taskmesh_'), s.name).toBe(true)

    // the thief's registry is its own: it stole, and timed its steals
    const thief = parseMetrics(await nodes[1].metrics.text()).samples
    expect(value(thief, 'taskmesh_tasks_stolen_total')).toBeGreaterThan(0)
    expect(value(thief, 'taskmesh_steal_round_trip_seconds_count')).toBeGreaterThan(0)
    expect(value(thief, 'taskmesh_tasks_accepted_total')).toBe(0)
  })

  it('counts a cancelled run as cancelled, not as a failure', async () => {
    const a = nodes[0]
    const failedBefore = value(
      parseMetrics(await a.metrics.text()).samples,
      'taskmesh_tasks_finished_total',
      {
        status: 'failed',
      },
    )
    const long = await a.submit({ ...sleepSpec(60_000, 'cancelled'), resources: { labels: ['owner'] } })
    await waitFor(() => a.status().running > 0, 10_000, 'the task never started')
    await a.cancel(long.id)
    await waitAll(a, [long.id])
    const { samples } = parseMetrics(await a.metrics.text())
    expect(value(samples, 'taskmesh_tasks_finished_total', { status: 'cancelled' })).toBe(1)
    expect(value(samples, 'taskmesh_run_seconds_count', { outcome: 'cancelled' })).toBe(1)
    expect(value(samples, 'taskmesh_tasks_finished_total', { status: 'failed' })).toBe(failedBefore)
  })

  it('logs a failed task with the handler’s stack, and the retry before it, each line with the peer id', async () => {
    const failed = lines.find((l) => l.msg === 'task failed')
    expect(failed).toMatchObject({ level: 'warn', peerId: nodes[0].peerId, event: 'finished', error: 'boom' })
    expect(String(failed?.stack)).toMatch(/^Error: boom\n\s+at /)
    expect(lines.find((l) => l.event === 'retried')).toMatchObject({ level: 'info', error: 'boom' })
    for (const l of lines) {
      expect(l.peerId).toBe(nodes[0].peerId)
      expect(Number.isNaN(Date.parse(String(l.time)))).toBe(false)
    }
    expect(lines.some((l) => l.level === 'debug')).toBe(false) // below the level: not written
  })

  it('GET /healthz: 200 while running; /metrics and /healthz need no token on loopback, the API does', async () => {
    const health = await fetch(`${url}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'ok', state: 'running', peerId: nodes[0].peerId })
    expect((await fetch(`${url}/status`)).status).toBe(401)
    expect((await fetch(`${url}/metrics`, { method: 'POST' })).status).toBe(405)
    expect((await fetch(`${url}/metrics?x=1`)).status).toBe(400)
    const rebound = await fetch(`${url}/healthz`, { headers: { origin: 'http://evil.example' } })
    expect(rebound.status).toBe(403)
  })

  it('bound beyond loopback, /metrics and /healthz want the token like every route', async () => {
    const wide = new HttpApi(nodes[0], { routes: opsRoutes(nodes[0]) })
    const port = new URL(await wide.listen(0, '0.0.0.0')).port
    try {
      const local = `http://127.0.0.1:${port}`
      expect((await fetch(`${local}/metrics`)).status).toBe(401)
      expect((await fetch(`${local}/healthz`)).status).toBe(401)
      const auth = { authorization: `Bearer ${wide.token}` }
      expect((await fetch(`${local}/metrics`, { headers: auth })).status).toBe(200)
      expect((await fetch(`${local}/healthz`, { headers: auth })).status).toBe(200)
    } finally {
      await wide.close()
    }
  })

  it('GET /healthz: 503 while the node drains', async () => {
    const b = nodes[1]
    const late = new HttpApi(b, { routes: opsRoutes(b) })
    const lateUrl = await late.listen(0)
    try {
      // the run outlasts the test: the drain waits for it until a second stop ends the drain
      const running = await b.submit(sleepSpec(60_000, 'draining'))
      await waitFor(() => b.story(running.id).some((e) => e.event === 'started'), 5_000, 'it never started')
      const stopped = b.stop({ drainTimeoutMs: 60_000 })
      const during = await fetch(`${lateUrl}/healthz`)
      expect(during.status).toBe(503)
      expect(await during.json()).toMatchObject({ status: 'unavailable', state: 'draining' })
      await Promise.all([stopped, b.stop()])
    } finally {
      await late.close()
    }
  })
})
