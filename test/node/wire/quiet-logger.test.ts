import { describe, expect, it } from 'vitest'
import { libp2pLogger } from '../../../src/node/wire/quiet-logger.ts'

describe('libp2pLogger', () => {
  it('leaves libp2p its own logger when DEBUG is set', () => {
    expect(libp2pLogger({ DEBUG: 'libp2p*' })).toBeUndefined()
  })

  it('gives a logger that writes nothing when DEBUG is unset or empty', () => {
    for (const env of [{}, { DEBUG: '' }]) {
      const log = libp2pLogger(env)?.forComponent('libp2p:test')
      expect(log?.enabled).toBe(false)
      expect(log?.newScope('x').enabled).toBe(false)
      expect(() => log?.('%s', 'hello')).not.toThrow()
      expect(() => log?.error(new Error('x'))).not.toThrow()
    }
  })
})
