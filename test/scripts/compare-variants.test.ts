import { describe, expect, it } from 'vitest'
import { variantsOf } from '../../scripts/compare/variants.ts'

describe('variantsOf', () => {
  it('runs each --variants entry (an empty one: the defaults) with the --daemon-flags too', () => {
    expect(
      variantsOf(['--lease-ttl', '100'], ' ; --record-copies 0;--custodians 0 --durability os', true),
    ).toEqual([
      { label: 'defaults', flags: ['--lease-ttl', '100'] },
      { label: 'record-copies 0', flags: ['--lease-ttl', '100', '--record-copies', '0'] },
      {
        label: 'custodians 0 durability os',
        flags: ['--lease-ttl', '100', '--custodians', '0', '--durability', 'os'],
      },
    ])
  })

  it('without --variants: each durability setting, unless the flags or the daemon rule it out', () => {
    expect(variantsOf([], undefined, true).map((v) => v.flags)).toEqual([
      ['--durability', 'sync'],
      ['--durability', 'os'],
    ])
    expect(variantsOf(['--durability', 'os'], undefined, true)).toEqual([
      { label: 'taskmesh', flags: ['--durability', 'os'] },
    ])
    expect(variantsOf([], undefined, false)).toEqual([{ label: 'taskmesh', flags: [] }])
  })
})
