import { spawn, spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DaemonProcess, runCli } from '../../scripts/chaos/cli-process.ts'
import { BIN } from '../../scripts/dist.ts'
import { ok, stopDaemons } from './daemon-fixture.ts'

/** Inline handlers that leave an error behind them, thrown after their task has ended. */
const LATE_HANDLERS = `
export default {
  'late-reject': { mode: 'inline', run: async () => { setTimeout(() => Promise.reject(new Error('late rejection')), 50); return 'ok' } },
  'prints-inline': { mode: 'inline', run: () => { console.log('ready from inline'); return 1 } },
  'prints-worker': () => { console.log('ready from worker'); return 2 },
  'late-throw': { mode: 'inline', run: async () => { setTimeout(() => { throw new Error('late throw') }, 50); return 'ok' } },
}
`

let root: string
const daemons: DaemonProcess[] = []

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'taskmesh-process-'))
  await writeFile(join(root, 'late.mjs'), LATE_HANDLERS)
})

afterAll(() => stopDaemons(daemons, root), 30_000)

/** Resolves once `text` is in the daemon's stderr (polled every 50 ms, at most 20 s). */
async function stderrHas(d: DaemonProcess, text: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!d.stderr.includes(text)) {
    if (Date.now() > deadline) throw new Error(`stderr never said "${text}":\n${d.stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const daemonArgs = (dir: string) => [
  '--data-dir',
  dir,
  '--open',
  '--listen',
  '/ip4/127.0.0.1/tcp/0',
  '--slots',
  '2',
]

describe('a daemon and the faults around it', () => {
  it('survives SIGHUP without --deny-peers and a late rejection; stops handing tasks back on a late throw', async () => {
    const dir = join(root, 'late')
    const start = () => {
      const d = new DaemonProcess([...daemonArgs(dir), '--handlers', join(root, 'late.mjs')])
      daemons.push(d)
      return d
    }
    const daemon = start()
    await daemon.ready()
    // SIGHUP's default would end the process: said and ignored
    const mark = daemon.mark()
    daemon.signal('SIGHUP')
    await daemon.waitForLine(/^SIGHUP: nothing to reload \(no --deny-peers\)$/, { from: mark })
    // what handlers print goes to stderr: stdout carries the daemon's lines only
    ok(await runCli(['submit', 'prints-inline', '--wait', '--data-dir', dir]))
    ok(await runCli(['submit', 'prints-worker', '--wait', '--data-dir', dir]))
    await stderrHas(daemon, 'ready from inline')
    await stderrHas(daemon, 'ready from worker')
    expect(daemon.lines.filter((l) => l.includes(' from '))).toEqual([])
    // a rejection nobody handled, from a handler's timer: logged, the node keeps running
    ok(await runCli(['submit', 'late-reject', '--wait', '--data-dir', dir]))
    await stderrHas(daemon, 'a rejected promise nobody handled (the node keeps running): late rejection')
    ok(await runCli(['submit', 'echo', '--input', '1', '--wait', '--data-dir', dir]))
    // an uncaught exception: the node stops, hands the running task back, and the process exits 1
    const sleeper = ok(await runCli(['submit', 'sleep', '--input', '{"ms":4000}', '--data-dir', dir]))
      .lines[0]
    ok(await runCli(['submit', 'late-throw', '--wait', '--data-dir', dir]))
    expect((await daemon.exited).code).toBe(1)
    expect(daemon.stderr).toContain('uncaught exception, stopping: Error: late throw')
    expect(daemon.lines).toContain('uncaught exception: stopping') // as the README lists it
    expect(daemon.lines).toContain('stopped')
    // the task it was running is run again at the next start: its crashed run counts as an
    // executor lost (the crash may have been its doing), one of the 3 it may lose
    const again = start()
    await again.ready()
    const result = JSON.parse(ok(await runCli(['result', sleeper, '--wait', '--data-dir', dir])).stdout)
    expect(result.status).toBe('succeeded')
    expect(result.attempts).toContainEqual(
      expect.objectContaining({ cut: 'lost', error: 'executor lost: its node crashed' }),
    )
  }, 90_000)

  it('keeps running when the reader of its standard output goes away', async () => {
    const dir = join(root, 'epipe')
    const child = spawn(process.execPath, [BIN, 'daemon', ...daemonArgs(dir)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve))
    let out = ''
    await new Promise<void>((resolve) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d
        if (out.includes('\nready\n')) resolve()
      })
    })
    child.stdout.destroy() // the reader is gone: the daemon's next line meets EPIPE
    child.kill('SIGHUP') // which prints a line
    // still serving after it wrote into the closed pipe
    ok(await runCli(['submit', 'echo', '--input', '2', '--wait', '--data-dir', dir]))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  }, 60_000)

  it('says what is wrong with a data dir that is a file, and with a working directory deleted', async () => {
    const file = join(root, 'a-file')
    await writeFile(file, 'x')
    const run = await runCli(['daemon', '--data-dir', join(file, 'sub')])
    expect(run.code).toBe(1)
    expect(run.stderr).toBe(
      `taskmesh: --data-dir ${join(file, 'sub')}: cannot make the directory: a file is in the way\n`,
    )
    const gone = join(root, 'gone')
    await mkdir(gone)
    const cd = spawnSync(
      'sh',
      ['-c', `cd "${gone}" && rmdir "${gone}" && exec "${process.execPath}" "${BIN}" status`],
      {
        encoding: 'utf8',
      },
    )
    expect(cd.status).toBe(1)
    expect(cd.stderr).toBe(
      'taskmesh: the current directory no longer exists (deleted?): cd to one that does\n',
    )
  }, 60_000)
})
