import { describe, expect, it } from 'vitest'
import { answerOffer } from '../../../src/node/wire/steal-service.ts'

describe('answerOffer', () => {
  it('releases the answer only once the turn that took the tasks has sent what it sends', async () => {
    const log: string[] = []
    // taking the offer starts a quick task: its run, signature and completion follow on microtasks
    const taking = () => {
      let chain = Promise.resolve()
      for (const step of ['run', 'sign', 'completion']) chain = chain.then(() => void log.push(step))
      return { type: 'offered' }
    }
    const answered = answerOffer(taking()).then((reply) => log.push(`answer ${reply.type}`))
    await answered
    expect(log).toEqual(['run', 'sign', 'completion', 'answer offered'])
  })

  it('answers with what the handler gave', async () => {
    const reply = { type: 'error', code: 'ERR_NOT_ALLOWED' }
    expect(await answerOffer(reply)).toBe(reply)
  })
})
