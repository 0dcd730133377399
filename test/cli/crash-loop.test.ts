import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DaemonProcess, runCli } from '../../scripts/chaos/cli-process.ts'
import { ok, peersListed, stopDaemons } from './daemon-fixture.ts'

/** An inline handler whose timer throws while its task runs: the error ends the daemon's process. */
const CRASH_HANDLERS = `
export default {
  crash: { mode: 'inline', run: () => new Promise(() => { setTimeout(() => { throw new Error('crash') }, 100) }) },
}
`

let root: string
const daemons: DaemonProcess[] = []

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'taskmesh-crash-'))
  await writeFile(join(root, 'crash.mjs'), CRASH_HANDLERS)
})

afterAll(() => stopDaemons(daemons, root), 30_000)

const args = (dir: string, ...more: string[]) => [
  ...['--data-dir', dir, '--open', '--listen', '/ip4/127.0.0.1/tcp/0', '--slots', '1'],
  ...more,
]

function start(dir: string, ...more: string[]): DaemonProcess {
  const d = new DaemonProcess(args(dir, ...more))
  daemons.push(d)
  return d
}

/** The record of a failed task as `taskmesh result --wait` prints it (exit 2: the task failed). */
async function failedResult(id: string, dir: string) {
  const run = await runCli(['result', id, '--wait', '--data-dir', dir])
  expect(run.code, run.stderr).toBe(2)
  return JSON.parse(run.stdout) as {
    status: string
    error?: string
    attempts: Array<{ executor: string; cut?: string; error?: string }>
  }
}

/**
 * A task whose run crashes the node running it (an error nobody caught) is ended as poison after
 * `--max-executor-losses`, as one whose executors are killed is: its runs count as executors lost,
 * at the owner that leased it and, for the owner's own run, across its restarts (the journal).
 */
describe('a task that crashes its node', () => {
  it('at a thief: the owner counts the lost executor and ends the task as poison', async () => {
    const ownerDir = join(root, 'owner')
    const owner = start(ownerDir, '--max-executor-losses', '1') // no crash handler: it cannot run it
    const { peerId: ownerId, addr } = await owner.ready()
    const thiefDir = join(root, 'thief')
    const thief = start(thiefDir, '--bootstrap', addr, '--handlers', join(root, 'crash.mjs'))
    const { peerId: thiefId } = await thief.ready()
    await peersListed(ownerDir, [thiefId])
    const id = ok(await runCli(['submit', 'crash', '--data-dir', ownerDir])).lines[0]
    expect((await thief.exited).code).toBe(1)
    const record = await failedResult(id, ownerDir)
    expect(record).toMatchObject({ status: 'failed', error: 'poison: lost 1 executors' })
    expect(record.attempts).toEqual([
      expect.objectContaining({ executor: thiefId, cut: 'lost', error: 'executor lost: its node crashed' }),
    ])
    expect(ownerId).not.toBe(thiefId)
  }, 90_000)

  it('at its owner alone: after a restart the journal counts the crashed run, and the task ends as poison', async () => {
    const dir = join(root, 'alone')
    // a lone node replays after the failure-detection window: a short one, for a short test
    const timing = ['--beacon-interval', '200', '--failure-detection', '800']
    const flags = ['--max-executor-losses', '1', '--handlers', join(root, 'crash.mjs'), ...timing]
    const first = start(dir, ...flags)
    await first.ready()
    const id = ok(await runCli(['submit', 'crash', '--data-dir', dir])).lines[0]
    expect((await first.exited).code).toBe(1)
    // the restart replays the task: lost once already, it is ended instead of run again
    const again = start(dir, ...flags)
    await again.ready()
    const record = await failedResult(id, dir)
    expect(record).toMatchObject({ status: 'failed', error: 'poison: lost 1 executors' })
    expect(record.attempts.map((a) => a.cut)).toEqual(['lost'])
    ok(await runCli(['status', '--data-dir', dir])) // still up
  }, 90_000)
})
