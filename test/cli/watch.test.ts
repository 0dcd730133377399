import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../scripts/chaos/cli-process.ts'
import { HttpApi } from '../../src/http/http-api.ts'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import type { MeshView } from '../../src/node/watch/mesh-view.ts'
import { startLocalMesh, waitForMesh } from '../../src/simulation/mesh.ts'
import { deadline, stopAll, waitFor } from '../integration/helpers.ts'

/**
 * The operator's commands run for real (the compiled CLI) against two nodes over TCP: `watch`,
 * `status --mesh`, `dashboard`, and the progress of `submit --wait`.
 */

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
    expect(run.stderr).toContain("reads a daemon's HTTP API: use --api <url> or --data-dir <dir>, not --peer")
  })
})

describe('taskmesh dashboard', () => {
  it('prints the one-time link that logs a browser in', async () => {
    const run = await cli(['dashboard', ...http])
    expect(run.code, run.stderr).toBe(0)
    expect(run.lines).toEqual([`${url}/?token=${api.token}`])
    const res = await fetch(run.lines[0], { redirect: 'manual' })
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/')
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

  it('prints one line per event, and exits 1 when the daemon ends the stream', async () => {
    const own = new HttpApi(nodes[0])
    const ownUrl = await own.listen(0)
    const watching = cli(['watch', '--event', 'started,finished', '--api', ownUrl, '--api-token', own.token])
    await waitFor(() => own.openEventStreams === 1, CLI_MS, 'taskmesh watch never connected')
    const [ok, bad] = await nodes[0].submitMany([
      { type: 'echo', input: 'watched' },
      { type: 'fail', input: { message: 'watched failing' }, maxAttempts: 1 },
    ])
    await Promise.all([ok.result(deadline()), bad.result(deadline())])
    await own.close()
    const run = await watching
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('the daemon ended the event stream')
    const lines = run.lines.filter((l) => l.includes(ok.id) || l.includes(bad.id))
    expect(lines).toHaveLength(4)
    for (const l of lines) expect(l).toMatch(/^\d\d:\d\d:\d\d\.\d{3} bafk\S+ (started|finished) /)
    expect(lines.find((l) => l.includes(bad.id) && l.includes('finished'))).toMatch(
      /state=failed status=failed epoch=1 error=watched failing/,
    )
  })
})
