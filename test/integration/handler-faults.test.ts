import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { MAX_ERROR_CHARS, MAX_STACK_CHARS } from '../../src/protocol/constants.ts'
import { deadline, stopAll } from './helpers.ts'

/**
 * What a handler throws ends its task failed, with a record, whatever it is: an error too long
 * for a record (cut), one whose `message` getter throws, a plain object, and attempts whose
 * errors and stacks together break the record's byte bound. Before, the first and the last made
 * a record that could not be signed: the process died of the rejection, and again at every
 * restart as the journal replayed the task.
 */
describe('handler faults', () => {
  let node: TaskmeshNode

  beforeAll(async () => {
    const registry = await HandlerRegistry.withBuiltins()
    registry.register('long-error', () => {
      throw new Error('e'.repeat(20_000))
    })
    registry.register('getter-error', () => {
      const error = new Error('unseen')
      Object.defineProperty(error, 'message', {
        get() {
          throw new Error('getter boom')
        },
      })
      throw error
    })
    registry.register('object-thrown', () => {
      throw { code: 7, why: 'plain' }
    })
    registry.register('fat-attempts', () => {
      const error = new Error('f'.repeat(MAX_ERROR_CHARS))
      error.stack = `Error: f\n${'    at somewhere (file.js:1:1)\n'.repeat(MAX_STACK_CHARS / 32)}`
      throw error
    })
    // retries at once: the fat task's 40 attempts take no time
    node = await TaskmeshNode.create({ slots: 2, registry, backoff: { baseMs: 0, capMs: 0 } })
  })

  afterAll(async () => {
    await stopAll([node])
  })

  const run = async (type: string, maxAttempts = 1) => {
    const [handle] = await node.submitMany([{ type, maxAttempts }])
    return node.waitResult(handle.id, deadline())
  }

  it('cuts an error too long for a record, and the node goes on', async () => {
    const record = await run('long-error')
    expect(record.status).toBe('failed')
    expect(record.error).toHaveLength(MAX_ERROR_CHARS)
    expect(record.error?.endsWith('e…')).toBe(true)
    expect(await run('echo')).toMatchObject({ status: 'succeeded' })
  })

  it('says "(no message)" for an error whose message getter throws', async () => {
    expect(await run('getter-error')).toMatchObject({ status: 'failed', error: '(no message)' })
  })

  it('shows a plain object thrown as JSON', async () => {
    expect(await run('object-thrown')).toMatchObject({
      status: 'failed',
      error: 'non-error thrown: {"code":7,"why":"plain"}',
    })
  })

  it('ends failed with a salvaged record when the attempts together break the record bound', async () => {
    const record = await run('fat-attempts', 40)
    expect(record.status).toBe('failed')
    expect(record.attempts).toHaveLength(40)
    // the stacks went, the attempts' errors were cut: the record fits
    expect(record.attempts.every((a) => a.stack === undefined && (a.error?.length ?? 0) <= 1024)).toBe(true)
    expect(record.error).toHaveLength(MAX_ERROR_CHARS)
    expect(await run('echo')).toMatchObject({ status: 'succeeded' })
  })
})
