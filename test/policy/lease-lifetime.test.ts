import { describe, expect, it } from 'vitest'
import { DEFAULT_LEASE_TTL_MS, LeaseTable, maxLeaseLifeMs } from '../../src/policy/leases.ts'
import { DEFAULT_TIMEOUT_MS } from '../../src/task/limits.ts'

/**
 * A lease lives at most its task's timeout plus a grace of 30 TTLs, renewals included: a thief that
 * keeps renewing a task it does not finish loses it then, as one that stopped renewing does.
 */
describe('LeaseTable: the longest life of a lease', () => {
  it('is the task timeout plus 30 TTLs (a task without timeoutMs has the default 5 minutes)', () => {
    expect(maxLeaseLifeMs(2_000, 10_000)).toBe(302_000)
    expect(maxLeaseLifeMs(DEFAULT_TIMEOUT_MS, DEFAULT_LEASE_TTL_MS)).toBe(600_000)
  })

  it('renewals extend a lease up to its end, never past it; at its end they are refused and it expires', () => {
    const table = new LeaseTable()
    const lease = table.grant('t', 'thief', 0, 1_000, 2_500)
    expect(lease).toEqual({ taskId: 't', holder: 'thief', epoch: 1, expiresAt: 1_000, endsBy: 2_500 })
    expect(table.renew('t', 'thief', 1, 400, 1_000)).toBe(true)
    expect(table.get('t')?.expiresAt).toBe(1_400)
    expect(table.renew('t', 'thief', 1, 1_200, 1_000)).toBe(true)
    expect(table.get('t')?.expiresAt).toBe(2_200)
    // the last renewal before its end extends it to its end only
    expect(table.renew('t', 'thief', 1, 2_000, 1_000)).toBe(true)
    expect(table.get('t')?.expiresAt).toBe(2_500)
    expect(table.nextExpiry()).toBe(2_500)
    expect(table.expire(2_499)).toEqual([])
    // at its end (swept or not yet) it is renewed no more
    expect(table.renew('t', 'thief', 1, 2_500, 1_000)).toBe(false)
    expect(table.get('t')?.expiresAt).toBe(2_500)
    expect(table.expire(2_500).map((l) => [l.taskId, l.holder, l.epoch])).toEqual([['t', 'thief', 1]])
    expect(table.renew('t', 'thief', 1, 2_600, 1_000)).toBe(false)
    // the task is granted again under a new epoch, with a life of its own
    expect(table.grant('t', 'other', 2_600, 1_000, 2_500)).toMatchObject({ epoch: 2, endsBy: 5_100 })
  })

  it('a thief renewing for ever holds the task no longer than its end', () => {
    const table = new LeaseTable()
    table.grant('t', 'hostile', 0, 600, 1_600)
    let now = 0
    while (now < 60_000 && table.renew('t', 'hostile', 1, now, 600)) now += 150 // every quarter TTL, as fast as it likes
    expect(now).toBe(1_650)
    expect(table.expire(now).map((l) => l.taskId)).toEqual(['t'])
  })

  it('a life shorter than the TTL ends the first term early', () => {
    const table = new LeaseTable()
    expect(table.grant('t', 'thief', 100, 1_000, 300)).toMatchObject({ expiresAt: 400, endsBy: 400 })
    expect(table.renew('t', 'thief', 1, 200, 1_000)).toBe(true)
    expect(table.get('t')?.expiresAt).toBe(400)
  })

  it("the owner's own stall moves a lease's end with its expiry", () => {
    const table = new LeaseTable()
    table.grant('t', 'thief', 0, 1_000, 2_000)
    table.postponeAll(500)
    expect(table.get('t')).toMatchObject({ expiresAt: 1_500, endsBy: 2_500 })
    expect(table.renew('t', 'thief', 1, 2_200, 1_000)).toBe(true)
    expect(table.expire(2_499)).toEqual([])
    expect(table.expire(2_500)).toHaveLength(1)
  })

  it('without a longest life, renewals extend a lease without bound (as before)', () => {
    const table = new LeaseTable()
    expect(table.grant('t', 'thief', 0, 1_000)).toEqual({
      taskId: 't',
      holder: 'thief',
      epoch: 1,
      expiresAt: 1_000,
    })
    expect(table.renew('t', 'thief', 1, 1_000_000, 1_000)).toBe(true)
    expect(table.get('t')?.expiresAt).toBe(1_001_000)
  })
})
