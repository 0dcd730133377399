import { describe, expect, it } from 'vitest'
import { LeaseConflictError } from '../../src/policy/errors.ts'
import { LeaseTable } from '../../src/policy/leases.ts'

describe('LeaseTable', () => {
  it('epochs increase across re-grants', () => {
    const table = new LeaseTable()
    expect(table.currentEpoch('t')).toBe(0)
    const first = table.grant('t', 'thief-a', 0, 1_000)
    expect(first).toEqual({ taskId: 't', holder: 'thief-a', epoch: 1, expiresAt: 1_000 })
    expect(table.release('t', 'thief-a', 1)).toBe(true)
    expect(table.nextEpoch('t')).toBe(2) // the owner runs it locally
    const second = table.grant('t', 'thief-b', 5, 1_000)
    expect(second.epoch).toBe(3)
    expect(table.expire(2_000).map((l) => l.epoch)).toEqual([3])
    expect(table.grant('t', 'thief-c', 2_000, 1_000).epoch).toBe(4)
    expect(table.currentEpoch('t')).toBe(4)
  })

  it('epochs are per task', () => {
    const table = new LeaseTable()
    table.grant('a', 'x', 0, 100)
    table.grant('a', 'x', 200, 100)
    expect(table.grant('b', 'x', 0, 100).epoch).toBe(1)
  })

  it.each([
    { name: 'stale epoch rejected', epoch: 1, verdict: 'stale' },
    { name: 'current epoch accepted', epoch: 2, verdict: 'accepted' },
    { name: 'a future epoch is not the current one', epoch: 3, verdict: 'stale' },
  ] as const)('fencing: $name', ({ epoch, verdict }) => {
    const table = new LeaseTable()
    table.grant('t', 'a', 0, 100)
    expect(table.expire(100)).toHaveLength(1)
    table.grant('t', 'b', 100, 100)
    expect(table.complete('t', epoch)).toBe(verdict)
    expect(table.size).toBe(verdict === 'accepted' ? 0 : 1)
  })

  it('a duplicated completion is stale the second time', () => {
    const table = new LeaseTable()
    const lease = table.grant('t', 'a', 0, 100)
    expect(table.complete('t', lease.epoch)).toBe('accepted')
    expect(table.complete('t', lease.epoch)).toBe('stale')
    expect(table.complete('never-leased', 1)).toBe('unknown')
  })

  it('expired lease returned once', () => {
    const table = new LeaseTable()
    table.grant('late', 'a', 0, 300)
    table.grant('early', 'b', 0, 100)
    table.grant('alive', 'c', 0, 10_000)
    expect(table.nextExpiry()).toBe(100)
    expect(table.expire(99)).toEqual([])
    expect(table.expire(500).map((l) => l.taskId)).toEqual(['early', 'late'])
    expect(table.expire(600)).toEqual([])
    expect(table.size).toBe(1)
    expect(table.complete('late', 1)).toBe('stale')
    expect(table.renew('late', 'a', 1, 600, 300)).toBe(false)
  })

  it.each([
    { name: 'the current holder and epoch may renew', holder: 'a', epoch: 1, ok: true },
    { name: 'another holder may not', holder: 'b', epoch: 1, ok: false },
    { name: 'an old epoch may not', holder: 'a', epoch: 0, ok: false },
  ])('renew: $name', ({ holder, epoch, ok }) => {
    const table = new LeaseTable()
    table.grant('t', 'a', 0, 100)
    expect(table.renew('t', holder, epoch, 50, 100)).toBe(ok)
    expect(table.get('t')?.expiresAt).toBe(ok ? 150 : 100)
  })

  it.each([
    { name: 'by the holder', holder: 'a', epoch: 1, ok: true },
    { name: 'not by another peer', holder: 'b', epoch: 1, ok: false },
    { name: 'not with a stale epoch', holder: 'a', epoch: 7, ok: false },
  ])('release $name', ({ holder, epoch, ok }) => {
    const table = new LeaseTable()
    table.grant('t', 'a', 0, 100)
    expect(table.release('t', holder, epoch)).toBe(ok)
    expect(table.get('t') === undefined).toBe(ok)
  })

  it('refuses to grant a task that is still leased, replaces an expired lease', () => {
    const table = new LeaseTable()
    table.grant('t', 'a', 0, 100)
    expect(() => table.grant('t', 'b', 50, 100)).toThrow(LeaseConflictError)
    expect(table.get('t')?.holder).toBe('a')
    const again = table.grant('t', 'b', 100, 100)
    expect(again.epoch).toBe(2)
    expect(table.byHolder('a')).toEqual([])
    expect(table.complete('t', 1)).toBe('stale')
  })

  it('byHolder lists live leases of one peer', () => {
    const table = new LeaseTable()
    table.grant('t1', 'a', 0, 100)
    table.grant('t2', 'a', 0, 100)
    table.grant('t3', 'b', 0, 100)
    table.complete('t1', 1)
    expect(table.byHolder('a').map((l) => l.taskId)).toEqual(['t2'])
    expect(table.byHolder('nobody')).toEqual([])
    expect([...table.taskIdsHeldBy('a')]).toEqual(['t2'])
    expect(table.taskIdsHeldBy('nobody').size).toBe(0)
  })

  it('returned leases are copies', () => {
    const table = new LeaseTable()
    const lease = table.grant('t', 'a', 0, 100)
    lease.expiresAt = 1e12
    expect(table.expire(100)).toHaveLength(1)
  })

  it('advanceTo keeps epochs above those seen elsewhere; forget drops the counter', () => {
    const table = new LeaseTable()
    table.advanceTo('t', 5)
    table.advanceTo('t', 3)
    expect(table.grant('t', 'a', 0, 100).epoch).toBe(6)
    table.forget('t')
    expect(table.size).toBe(0)
    expect(table.currentEpoch('t')).toBe(0)
    expect(table.complete('t', 6)).toBe('unknown')
  })
})

describe('LeaseTable.postponeAll (the owner stalled)', () => {
  it('pushes every live lease back by the stall: none expires at its old deadline, each at the new one', () => {
    const table = new LeaseTable()
    table.grant('t1', 'thief-a', 0, 1_000)
    table.grant('t2', 'thief-b', 0, 2_000)
    table.postponeAll(500)
    expect(table.expire(1_000)).toEqual([])
    expect(table.expire(1_499)).toEqual([])
    expect(table.expire(1_500).map((l) => l.taskId)).toEqual(['t1'])
    expect(table.expire(2_499)).toEqual([])
    expect(table.expire(2_500).map((l) => l.taskId)).toEqual(['t2'])
  })
})
