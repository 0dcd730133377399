import { describe, expect, it } from 'vitest'
import { copiesPerRecord, PROCESSES } from '../../scripts/compare/noop.ts'

describe('copiesPerRecord', () => {
  it("counts the executor's copy and its peers' under the daemons' --record-copies", () => {
    // 3 daemons: by default every daemon holds every record
    expect(copiesPerRecord([])).toBe(PROCESSES)
    expect(copiesPerRecord(['--durability', 'os'])).toBe(PROCESSES)
    expect(copiesPerRecord(['--record-copies', '1'])).toBe(2)
    expect(copiesPerRecord(['--lease-ttl', '100', '--record-copies=0'])).toBe(1)
    expect(copiesPerRecord(['--record-copies', '7'])).toBe(PROCESSES)
  })
})
