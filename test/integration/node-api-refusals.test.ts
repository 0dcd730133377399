import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { InvalidTaskError } from '../../src/task/errors.ts'

let node: TaskmeshNode

beforeAll(async () => {
  node = await TaskmeshNode.create({ slots: 1 })
})

afterAll(async () => {
  await node.stop()
})

/** What `run` rejected or threw with. */
async function refusal(run: () => unknown): Promise<Error> {
  try {
    await run()
  } catch (err) {
    return err as Error
  }
  throw new Error('it was accepted')
}

describe('the node API refuses a bad argument at once, naming it', () => {
  it('a task id that is not one, in every read and control call: no 30-s wait, no stalled loop', async () => {
    const started = performance.now()
    const calls: Array<[string, () => unknown]> = [
      ['getResult', () => node.getResult('not-a-cid')],
      ['getResult', () => node.getResult('b'.repeat(100_000))],
      ['waitResult', () => node.waitResult(42 as unknown as string)],
      ['signedResult', () => node.signedResult('', { wait: false })],
      ['cancel', () => node.cancel('b'.repeat(100_000))],
      ['cancel', () => node.cancel(undefined as unknown as string)],
      ['taskState', () => node.taskState('garbage')],
      ['story', () => node.story(42 as unknown as string)],
      ['results: ids[0]', () => node.results(['y']).next()],
    ]
    for (const [where, call] of calls) {
      const err = await refusal(call)
      expect(err, where).toBeInstanceOf(TypeError)
      expect(err.message).toMatch(new RegExp(`^${where.replace(/[[\]]/g, '\\$&')}: .* is not a task id`))
    }
    expect(performance.now() - started).toBeLessThan(2_000) // the 100,000-character id was never hashed
  })

  it('a signal that is no AbortSignal is refused, and the process lives on', async () => {
    const { id } = await node.submit({ type: 'echo', input: 1 })
    const err = await refusal(() => node.waitResult(id, 'x' as unknown as AbortSignal))
    expect(err.message).toBe('waitResult: signal must be an AbortSignal, got string')
    expect((await refusal(() => node.getResult(id, { signal: {} as AbortSignal }))).message).toBe(
      'getResult: signal must be an AbortSignal, got object',
    )
    expect((await node.waitResult(id)).output).toBe(1) // still serving
  })

  it('submit options and a non-array submission are refused before anything is accepted', async () => {
    const before = node.status().counters.accepted
    const submitter = await refusal(() =>
      node.submit({ type: 'echo' }, { submitter: 42 as unknown as string }),
    )
    expect(submitter).toBeInstanceOf(InvalidTaskError)
    expect(submitter.message).toBe('submitter: must be a string of 1 to 256 characters, got 42')
    const long = await refusal(() => node.submit({ type: 'echo' }, { submitter: 's'.repeat(300) }))
    expect(long.message).toMatch(/^submitter: must be a string of 1 to 256 characters/)
    const onResult = await refusal(() => node.submit({ type: 'echo' }, { onResult: 5 as never }))
    expect(onResult.message).toBe('onResult: must be a function, got number')
    const notArray = await refusal(() => node.submitMany('x' as unknown as unknown[]))
    expect(notArray.message).toBe('tasks: must be an array of task specs, got string')
    expect(node.status().counters.accepted).toBe(before)
  })

  it('a listing or a wait for peers with a bad bound is refused', async () => {
    expect(() => node.listTasks({ limit: -1 })).toThrow(
      'listTasks: limit must be an integer from 1 to 1000, got -1',
    )
    expect(() => node.listTasks({ states: ['bogus' as never] })).toThrow(
      /^listTasks: states\[0\] "bogus" is not one of waiting/,
    )
    expect((await refusal(() => node.waitForPeers(-1))).message).toBe(
      'waitForPeers: count must be a whole number >= 0, got -1',
    )
  })
})

describe('a node refused at its start changes nothing', () => {
  it('a handler module that cannot be loaded: no key, no datastore written in the data dir', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'taskmesh-refused-'))
    try {
      const err = await refusal(() => TaskmeshNode.create({ dataDir, handlers: [join(dataDir, 'none.mjs')] }))
      expect(err.message).toContain('cannot be imported: no such file')
      expect(await readdir(dataDir)).toEqual([])
      const node = await TaskmeshNode.create({ dataDir }) // and the data dir serves a node after it
      await node.stop()
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })

  it('an address it cannot listen on: one line naming it, and the data dir opens again at once', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'taskmesh-refused-'))
    try {
      // a documentation address (RFC 5737): never this machine's, so binding to it fails
      const err = await refusal(() => TaskmeshNode.create({ dataDir, listen: ['/ip4/192.0.2.1/tcp/0'] }))
      expect(err.name).toBe('ListenError')
      expect(err.message).toBe('cannot listen on /ip4/192.0.2.1/tcp/0: address not available (EADDRNOTAVAIL)')
      const node = await TaskmeshNode.create({ dataDir }) // its datastore was closed, not left locked
      await node.stop()
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})
