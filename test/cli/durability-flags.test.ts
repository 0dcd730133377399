import { copyFile, mkdir, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DaemonProcess, runCli } from '../../scripts/chaos/cli-process.ts'
import { apiStatus, ok, peersListed, stopDaemons } from './daemon-fixture.ts'

/** The status fields these tests read beyond the fixture's. */
type DurabilityStatus = Awaited<ReturnType<typeof apiStatus>> & {
  custody: { custodians: string[]; guarded: number }
  accounting: { protocols: Record<string, { streamsOut: number } | undefined> }
}

const daemons: DaemonProcess[] = []
let root: string | undefined

afterAll(() => stopDaemons(daemons, root), 30_000)

describe('taskmesh daemon --record-copies 0 --custodians 0', () => {
  it('hands its tasks to no custodian and copies its records to no peer, yet serves them', async () => {
    root = await mkdtemp(join(tmpdir(), 'taskmesh-durability-'))
    const start = async (name: string, extra: string[]) => {
      const dir = join(root as string, name)
      await mkdir(dir, { recursive: true })
      const proc = new DaemonProcess(['--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', ...extra])
      daemons.push(proc)
      return { dir, ...(await proc.ready()) }
    }
    const a = await start('a', ['--slots', '2', '--record-copies', '0', '--custodians', '0'])
    await mkdir(join(root, 'b'), { recursive: true })
    await copyFile(join(a.dir, 'swarm.key'), join(root, 'b', 'swarm.key'))
    const b = await start('b', ['--slots', '1', '--bootstrap', a.addr])
    await peersListed(a.dir, [b.peerId])

    // the submission is acknowledged once its custodians hold it (none here): the task runs on
    const submitted = ok(
      await runCli(['submit', 'sleep', '--input', '{"ms":1500,"output":"kept here"}', '--data-dir', a.dir]),
    )
    const id = submitted.lines[0]
    const running = (await apiStatus(a.dir)) as DurabilityStatus
    expect(running.custody.custodians).toEqual([])
    expect(((await apiStatus(b.dir)) as DurabilityStatus).custody.guarded).toBe(0)
    ok(await runCli(['result', id, '--wait', '--wait-ms', '15000', '--data-dir', a.dir]))
    // the other daemon, which never heard of the task, reads the record from its executor (a DHT get)
    const read = ok(await runCli(['result', id, '--data-dir', b.dir]))
    expect(read.stdout).toContain('kept here')
    // and no copy of it went anywhere: this daemon opened no replicate stream
    const after = (await apiStatus(a.dir)) as DurabilityStatus
    expect(after.accounting.protocols.replicate?.streamsOut ?? 0).toBe(0)
  }, 90_000)
})
