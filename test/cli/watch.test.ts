import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { runCli } from '../../scripts/chaos/cli-process.ts'
import { formatEvent, formatGap, quoteValue, runWatch } from '../../src/cli/tasks/watch.ts'
import type { EventGap } from '../../src/client/event-source.ts'
import { HttpApi } from '../../src/http/http-api.ts'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import type { MeshView } from '../../src/node/watch/mesh-view.ts'
import { startLocalMesh, waitForMesh } from '../../src/simulation/mesh.ts'
import { eventFixture } from '../http/event-fixture.ts'
import { deadline, stopAll, waitFor } from '../integration/helpers.ts'

describe('the lines of taskmesh watch (formatEvent, formatGap)', () => {
  const forged = '10:51:37.204 bafkreiforged finished         state=succeeded status=succeeded epoch=1'

  it('prints a multi-line error that forges an event line as one line, its value quoted and escaped', () => {
    const line = formatEvent({
      taskId: 'bafkreitask',
      event: 'finished',
      at: Date.UTC(2025, 0, 1, 10, 51, 37, 204),
      state: 'failed',
      detail: {
        status: 'failed',
        epoch: 1,
        error: `boom\n${forged}`,
        stack: 'Error: boom\n    at run (handler.js:3:9)\r\n    at next (handler.js:9:1)',
      },
    })
    expect(line.split(/[\n\r]/)).toHaveLength(1)
    expect(line).toBe(
      `10:51:37.204 bafkreitask finished         state=failed status=failed epoch=1 error="boom\\n${forged}" stack="Error: boom\\n    at run (handler.js:3:9)\\r\\n    at next (handler.js:9:1)"`,
    )
  })

  it('leaves plain values bare', () => {
    const line = formatEvent({
      taskId: 'bafkreitask',
      event: 'finished',
      at: 0,
      detail: { status: 'failed', epoch: 1, error: 'boom', retried: false, by: '12D3KooWabc' },
    })
    expect(line).toBe(
      '00:00:00.000 bafkreitask finished         status=failed epoch=1 error=boom retried=false by=12D3KooWabc',
    )
  })

  it.each([
    ['a space', 'two words'],
    ['a quote', 'say "hi"'],
    ['an apostrophe', "it's"],
    ['an equals sign', 'status=succeeded'],
    ['a backslash', 'C:\\temp'],
    ['nothing', ''],
    ['a tab', 'a\tb'],
    ['a carriage return', 'a\rb'],
    ['an escape sequence', 'a\u001b[2Jb'],
    ['a C1 control (NEL)', 'a\u0085b'],
    ['a line separator', 'a\u2028b'],
    ['a bidirectional override', 'a\u202eb'],
  ])('quotes a value with %s, escaping what a terminal would not show as it is', (_, value) => {
    const quoted = quoteValue(value)
    expect(quoted.startsWith('"') && quoted.endsWith('"')).toBe(true)
    expect(JSON.parse(quoted)).toBe(value)
    // printable ASCII, or characters a terminal shows as themselves
    for (const c of quoted) {
      const code = c.charCodeAt(0)
      expect(code >= 0x20 && !(code >= 0x7f && code <= 0x9f) && code !== 0x2028 && code !== 0x202e).toBe(true)
    }
  })

  it('runWatch prints each event on one line, a gap on stderr, resumes a cut stream, and says why the stream ended', async () => {
    const b = await eventFixture({ maxUnsentBytes: 4_096, replayBytes: 4_000 })
    const out: string[] = []
    const err: string[] = []
    let printed: (() => void) | undefined
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => {
      out.push(line)
      printed?.()
    })
    const error = vi.spyOn(console, 'error').mockImplementation((line: string) => void err.push(line))
    try {
      const watching = runWatch({ api: b.url.replace(/\/events$/, ''), json: false })
      const ended = watching.then(
        () => 'returned',
        (e: Error) => e.message,
      )
      await b.served(1)
      const first = new Promise<void>((resolve) => {
        printed = resolve
      })
      b.events.emit('bafkreifailed', 'finished', { status: 'failed', epoch: 1, error: `boom\n${forged}` })
      await first
      b.emit(200, { prefix: 'burst', pad: 100 }) // cut off, and more than the node holds: a gap
      await b.served(2)
      b.streams.close('the daemon is stopping')
      expect(await ended).toBe('the daemon ended the event stream: the daemon is stopping')
    } finally {
      log.mockRestore()
      error.mockRestore()
      await b.close()
    }
    expect(out[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} bafkreifailed finished {9}state=failed status=failed epoch=1 error="boom\\n/,
    )
    for (const line of out) expect(line).not.toMatch(/[\n\r]/)
    expect(err).toHaveLength(1)
    expect(err[0]).toMatch(/^taskmesh: \d+ events were lost \(the stream fell behind: /)
    const lost = Number(/(\d+) events/.exec(err[0])?.[1])
    expect(out).toHaveLength(1 + 200 - lost)
    expect(out.at(-1)).toContain('burst199 started')
  })

  it('says how many events a gap lost, when the daemon knows', () => {
    const gap = (n: Partial<EventGap>): EventGap => ({ kind: 'gap', reason: 'the watch fell behind', ...n })
    expect(formatGap(gap({ lost: 12 }))).toBe('taskmesh: 12 events were lost (the watch fell behind)')
    expect(formatGap(gap({ lost: 1 }))).toBe('taskmesh: 1 event was lost (the watch fell behind)')
    expect(formatGap(gap({ lostAtMost: 5 }))).toBe(
      'taskmesh: up to 5 events were lost (the watch fell behind)',
    )
    expect(formatGap(gap({}))).toBe('taskmesh: events were lost (the watch fell behind)')
  })
})

/**
 * The operator's commands run for real (the compiled CLI) against two nodes over TCP: `watch`,
 * `status --mesh`, `dashboard`, and the progress of `submit --wait`.
 */
describe('taskmesh commands against a mesh', () => {
  /** Time a CLI child may take on a loaded machine, ms. */
  const CLI_MS = 60_000

  let nodes: TaskmeshNode[] = []
  let api: HttpApi
  let url: string
  let http: string[]

  beforeAll(async () => {
    nodes = await startLocalMesh({ nodes: 2, slots: 2 })
    await waitForMesh(nodes)
    api = new HttpApi(nodes[0])
    url = await api.listen(0)
    http = ['--api', url, '--api-token', api.token]
  })

  afterAll(async () => {
    await api?.close()
    await stopAll(nodes)
  })

  const cli = (args: string[]) => runCli(args, CLI_MS)

  describe('taskmesh status --mesh', () => {
    it('prints a table of every node the daemon hears of, and JSON with --json', async () => {
      const [table, json] = await Promise.all([
        cli(['status', '--mesh', ...http]),
        cli(['status', '--mesh', '--json', ...http]),
      ])
      expect(table.code, table.stderr).toBe(0)
      expect(table.lines[0]).toMatch(/^NODE\s+HEARD\s+SLOTS\s+RUNNING\s+QUEUED\s+WAIT\s+LOAD\s+AGE\s+TYPES$/)
      expect(table.lines[1]).toMatch(new RegExp(`^${nodes[0].peerId}\\s+self\\s+2\\s+`))
      expect(table.lines[2]).toMatch(new RegExp(`^${nodes[1].peerId}\\s+neighbour\\s+2\\s+`))
      expect(table.lines[3]).toBe('2 nodes: this one, 1 neighbours, 0 named in hot lists')
      const view = JSON.parse(json.stdout) as MeshView
      expect(view.nodes.map((n) => n.peerId)).toEqual(nodes.map((n) => n.peerId))
    })

    it('refuses --peer, saying the view is read over HTTP', async () => {
      const run = await cli(['status', '--mesh', '--peer', nodes[0].multiaddrs[0]])
      expect(run.code).toBe(1)
      expect(run.stderr).toContain(
        "reads a daemon's HTTP API: use --api <url> or --data-dir <dir>, not --peer",
      )
    })
  })

  describe('taskmesh dashboard', () => {
    it('prints the one-time link that logs a browser in', async () => {
      const run = await cli(['dashboard', ...http])
      expect(run.code, run.stderr).toBe(0)
      expect(run.lines).toEqual([`${url}/?token=${api.token}`])
      const res = await fetch(run.lines[0], { redirect: 'manual' })
      expect(res.status).toBe(303)
      // the token goes on in the fragment, which never reaches a server, and in no cookie
      expect(res.headers.get('location')).toBe(`/#token=${encodeURIComponent(api.token)}`)
      expect(res.headers.get('set-cookie')).toMatch(/^taskmesh-token-\d+=; Max-Age=0;/)
      expect(run.stderr).toContain('the token stays in the tab, not in a cookie')
    })
  })

  describe('taskmesh submit --wait', () => {
    it('shows progress on stderr as plain lines when it is not a terminal; --no-progress shows none', async () => {
      const file = join(tmpdir(), `taskmesh-progress-${process.pid}.json`)
      await writeFile(file, JSON.stringify([1, 2, 3].map((i) => ({ type: 'echo', input: i }))))
      const [shown, quiet] = await Promise.all([
        cli(['submit', '--file', file, '--wait', ...http]),
        cli(['submit', '--file', file, '--wait', '--no-progress', ...http]),
      ])
      expect(shown.code, shown.stderr).toBe(0)
      expect(shown.lines).toHaveLength(6) // three ids, then three records
      expect(shown.stderr.trim().split('\n').at(-1)).toBe('results 3/3 (0 failed)')
      expect(quiet.code).toBe(0)
      expect(quiet.stderr).toBe('')
    })
  })

  describe('taskmesh watch', () => {
    it('refuses a bad filter with the reason the node gives', async () => {
      const run = await cli(['watch', '--state', 'runing', ...http])
      expect(run.code).toBe(1)
      expect(run.stderr).toContain('"runing" is not a state')
      expect(run.stderr).toContain('ERR_BAD_REQUEST')
    })

    it('prints one line per event, a multi-line error quoted on it, and exits 1 saying why the daemon ended the stream', async () => {
      const own = new HttpApi(nodes[0])
      const ownUrl = await own.listen(0)
      const watching = cli([
        'watch',
        '--event',
        'started,finished',
        '--api',
        ownUrl,
        '--api-token',
        own.token,
      ])
      await waitFor(() => own.openEventStreams === 1, CLI_MS, 'taskmesh watch never connected')
      // a handler's error that forges a whole event line
      const forged = '00:00:00.000 bafkreiforged finished         state=succeeded status=succeeded epoch=1'
      const [ok, bad] = await nodes[0].submitMany([
        { type: 'echo', input: 'watched' },
        { type: 'fail', input: { message: `watched failing\n${forged}` }, maxAttempts: 1 },
      ])
      await Promise.all([ok.result(deadline()), bad.result(deadline())])
      await own.close()
      const run = await watching
      expect(run.code).toBe(1)
      expect(run.stderr).toContain('taskmesh: the daemon ended the event stream: the daemon is stopping')
      expect(run.stderr).not.toContain('terminated')
      const lines = run.lines.filter((l) => l.includes(ok.id) || l.includes(bad.id))
      expect(lines).toHaveLength(4)
      for (const l of lines) expect(l).toMatch(/^\d\d:\d\d:\d\d\.\d{3} bafk\S+ (started|finished) /)
      // every line printed is an event of its own: the error's lines are not
      for (const l of run.lines) expect(l).toMatch(/^\d\d:\d\d:\d\d\.\d{3} bafk\S+ \S/)
      expect(run.lines.filter((l) => l.startsWith(forged.slice(0, 30)))).toEqual([])
      expect(lines.find((l) => l.includes(bad.id) && l.includes('finished'))).toMatch(
        /state=failed status=failed epoch=1 error="watched failing\\n00:00:00\.000 bafkreiforged finished {9}state=succeeded status=succeeded epoch=1"( stack="(?:[^"\\]|\\.)*")?$/,
      )
    })
  })
})
