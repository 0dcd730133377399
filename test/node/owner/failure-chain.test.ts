import { describe, expect, it } from 'vitest'
import { dependencyFailure } from '../../../src/node/owner/failure-chain.ts'
import { MAX_ERROR_CHARS } from '../../../src/protocol/constants.ts'

describe('dependencyFailure', () => {
  it('names the dependency and its error; a direct dependency of the root keeps both links', () => {
    expect(dependencyFailure('bafkP', 'boom')).toBe('dependency bafkP failed: boom')
    expect(dependencyFailure('bafkP', undefined)).toBe('dependency bafkP failed: failed')
    expect(dependencyFailure('bafkB', dependencyFailure('bafkR', 'boom'))).toBe(
      'dependency bafkB failed: dependency bafkR failed: boom',
    )
  })

  it('folds a 500-deep chain to its root, whose error stays whole', () => {
    const root = `root cause: ${'x'.repeat(200)}`
    let error = dependencyFailure('bafkroot', root) // the root's first dependent
    for (let i = 1; i < 500; i++) error = dependencyFailure(`bafk${i}`, error)
    expect(error).toBe(
      `dependency bafk499 failed: dependency bafkroot failed (499 tasks up the chain): ${root}`,
    )
    expect(error.length).toBeLessThan(400)
  })

  it('still cuts an error over the record limit', () => {
    expect(dependencyFailure('bafkP', 'e'.repeat(MAX_ERROR_CHARS * 2))).toHaveLength(MAX_ERROR_CHARS)
  })
})
