import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CliRun, runCli } from '../../scripts/chaos/cli-process.ts'
import {
  EXIT_ERROR,
  EXIT_NO_RESULT,
  EXIT_OK,
  EXIT_TASK_FAILED,
  EXIT_UNKNOWN_TASK,
} from '../../src/cli/exit-codes.ts'
import { HttpApi } from '../../src/http/http-api.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { parseTaskSpec } from '../../src/task/spec.ts'
import { taskId } from '../../src/task/task-id.ts'

/**
 * The CLI's exit codes, run for real against one node, through its HTTP API and as a light
 * client: a script can tell success, failure, "not yet" and "nobody knows this id" apart.
 */

/** Time a CLI child may take on a loaded machine (its start alone takes seconds), ms. */
const CLI_MS = 60_000

let node: TaskmeshNode
let api: HttpApi
let http: string[]
let peer: string[]
const unknownId = taskId(parseTaskSpec({ type: 'echo' }), 'nobody', 'never-submitted')

beforeAll(async () => {
  node = await TaskmeshNode.create({ slots: 2 })
  api = new HttpApi(node, { pollMs: 300 })
  http = ['--api', await api.listen(0), '--api-token', api.token]
  peer = ['--peer', node.multiaddrs[0]]
})

afterAll(async () => {
  await api?.close()
  await node?.stop()
})

const cli = (args: string[]) => runCli(args, CLI_MS)

/** The one JSON record (or state) a command printed. */
const printed = (run: CliRun) => JSON.parse(run.stdout) as Record<string, unknown>

describe('exit codes', () => {
  it('0 succeeded, 2 failed or cancelled, 3 not finished, 4 unknown id (over HTTP)', async () => {
    const [ok, failed] = await Promise.all([
      cli(['submit', 'echo', '--input', '"fine"', '--wait', ...http]),
      cli(['submit', 'fail', '--input', '{"message":"boom","unrecoverable":true}', '--wait', ...http]),
    ])
    expect(ok.code, ok.stderr).toBe(EXIT_OK)
    expect(failed.code, failed.stderr).toBe(EXIT_TASK_FAILED)
    expect(JSON.parse(failed.lines[1])).toMatchObject({ status: 'failed', error: 'UnrecoverableError: boom' })
    expect(failed.stderr).toContain('1 of 1 tasks failed')

    const [sleeper] = await node.submitMany([{ type: 'sleep', input: { ms: 60_000 } }])
    const [read, readFailed, running, unknown] = await Promise.all([
      cli(['result', ok.lines[0], ...http]),
      cli(['result', failed.lines[0], ...http]),
      cli(['result', sleeper.id, ...http]),
      cli(['result', unknownId, '--wait', ...http]), // waits for nothing: nobody knows it
    ])
    expect(read.code, read.stderr).toBe(EXIT_OK)
    expect(printed(read)).toMatchObject({ status: 'succeeded', output: 'fine' })
    expect(readFailed.code).toBe(EXIT_TASK_FAILED)
    expect(printed(readFailed)).toMatchObject({ status: 'failed', error: 'UnrecoverableError: boom' })
    expect(running.code).toBe(EXIT_NO_RESULT)
    expect(printed(running)).toEqual({ taskId: sleeper.id, state: 'running' })
    expect(unknown.code, unknown.stderr).toBe(EXIT_UNKNOWN_TASK)
    expect(printed(unknown)).toEqual({ taskId: unknownId, state: 'unknown' })
    expect(unknown.stderr).toContain(`no node in reach knows task ${unknownId}`)

    const cancel = await cli(['cancel', sleeper.id, ...http])
    expect(cancel.code, cancel.stderr).toBe(EXIT_OK)
    const cancelled = await cli(['result', sleeper.id, ...http])
    expect(cancelled.code).toBe(EXIT_TASK_FAILED)
    expect(printed(cancelled)).toMatchObject({ status: 'failed', error: 'cancelled' })
  }, 180_000)

  it('cancel and story agree with result on an unknown id (4); a known story is 0; bad input is 1', async () => {
    const [cancel, story, known, badId, refused] = await Promise.all([
      cli(['cancel', unknownId, ...http]),
      cli(['story', unknownId, ...http]),
      cli(['story', (await node.submit({ type: 'echo' })).id, ...http]),
      cli(['result', 'not-a-task-id', ...http]),
      cli(['submit', 'echo', '--input', '{"x":', ...http]),
    ])
    for (const run of [cancel, story]) expect(run.code, run.stderr).toBe(EXIT_UNKNOWN_TASK)
    // said as result says it: the node asked the mesh, not only itself
    expect(cancel.stderr).toContain(`no node in reach knows task ${unknownId}`)
    expect(cancel.stdout).toBe('')
    expect(story.stderr).toContain(`no node in reach knows task ${unknownId}`)
    expect(known.code, known.stderr).toBe(EXIT_OK)
    expect(known.lines.length).toBeGreaterThan(0)
    expect(badId.code).toBe(EXIT_ERROR)
    expect(refused.code).toBe(EXIT_ERROR)
  }, 180_000)

  it('the same codes as a light client (submit protocol): 2 failed, 4 unknown for result and cancel', async () => {
    const [failed, unknown, cancel] = await Promise.all([
      cli(['submit', 'fail', '--input', '{"unrecoverable":true}', '--wait', ...peer]),
      cli(['result', unknownId, '--wait', ...peer]),
      cli(['cancel', unknownId, ...peer]),
    ])
    expect(failed.code, failed.stderr).toBe(EXIT_TASK_FAILED)
    expect(JSON.parse(failed.lines[1])).toMatchObject({ status: 'failed' })
    expect(unknown.code, unknown.stderr).toBe(EXIT_UNKNOWN_TASK)
    expect(printed(unknown)).toEqual({ taskId: unknownId, state: 'unknown' })
    expect(cancel.code, cancel.stderr).toBe(EXIT_UNKNOWN_TASK)
    expect(cancel.stderr).toContain(`no node in reach knows task ${unknownId}`)
  }, 180_000)

  it('--help lists the exit codes', async () => {
    const help = await cli(['result', '--help'])
    expect(help.code).toBe(EXIT_OK)
    expect(help.stdout).toMatch(
      /Exit codes:[\s\S]*2 {2}the task failed or was cancelled[\s\S]*4 {2}unknown task/,
    )
  }, 60_000)
})
