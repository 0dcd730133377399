import { describe, expect, it } from 'vitest'
import type { Execution, Fault } from '../../src/chaos/history.ts'
import { countActions, planNemesis } from '../../src/chaos/nemesis.ts'
import { reexecutions } from '../../src/chaos/reexecution.ts'

const BASE = {
  seed: 7,
  nodes: ['n0', 'n1', 'n2', 'n3'],
  durationMs: 30_000,
  intervalMs: 3_000,
  downMs: 2_000,
  frozenMs: 2_500,
  freezeShare: 0.3,
}

describe('planNemesis', () => {
  it('is decided by the seed alone: the same seed gives the same schedule, another seed another', () => {
    expect(planNemesis(BASE)).toEqual(planNemesis(BASE))
    expect(planNemesis({ ...BASE, seed: 8 })).not.toEqual(planNemesis(BASE))
  })

  it('faults a node every interval, heals each one, and keeps at most maxFaulty faulty at once', () => {
    for (const maxFaulty of [1, 2]) {
      const steps = planNemesis({ ...BASE, maxFaulty, downMs: 4_000, frozenMs: 5_000, cutShare: 0.3 })
      const faulty = new Set<string>()
      let most = 0
      for (const s of steps) {
        if (s.action === 'kill' || s.action === 'freeze' || s.action === 'cut') {
          expect(faulty.has(s.node), `${s.node} faulted twice`).toBe(false)
          faulty.add(s.node)
        } else {
          expect(faulty.delete(s.node), `${s.node} healed but not faulty`).toBe(true)
        }
        most = Math.max(most, faulty.size)
      }
      expect(faulty.size).toBe(0)
      expect(most).toBe(maxFaulty)
      expect(steps.some((s) => s.action === 'cut')).toBe(true)
    }
  })

  it('pairs kills with restarts and freezes with thaws, at the planned delays, in time order', () => {
    const steps = planNemesis(BASE)
    const counts = countActions(steps)
    expect(counts.kill).toBe(counts.restart)
    expect(counts.freeze).toBe(counts.thaw)
    expect(counts.kill).toBeGreaterThan(0)
    expect(counts.freeze).toBeGreaterThan(0)
    for (const s of steps.filter((x) => x.action === 'kill')) {
      expect(steps).toContainEqual({ atMs: s.atMs + BASE.downMs, action: 'restart', node: s.node })
    }
    for (const s of steps.filter((x) => x.action === 'freeze')) {
      expect(steps).toContainEqual({ atMs: s.atMs + BASE.frozenMs, action: 'thaw', node: s.node })
    }
    expect(steps.map((s) => s.atMs)).toEqual([...steps.map((s) => s.atMs)].sort((a, b) => a - b))
    expect(steps.every((s) => s.atMs > 0)).toBe(true)
  })

  it('freezes only with freezeShare 1, kills only with 0', () => {
    expect(countActions(planNemesis({ ...BASE, freezeShare: 1 })).kill).toBe(0)
    expect(countActions(planNemesis({ ...BASE, freezeShare: 0 })).freeze).toBe(0)
  })

  it('cuts nodes off for cutMs, each cut mended, taking its share from the kills alone', () => {
    const plan = { ...BASE, durationMs: 120_000, cutShare: 0.3, cutMs: 6_000 }
    const steps = planNemesis(plan)
    const counts = countActions(steps)
    expect(counts.cut).toBeGreaterThan(0)
    expect(counts.mend).toBe(counts.cut)
    for (const s of steps.filter((x) => x.action === 'cut')) {
      expect(steps).toContainEqual({ atMs: s.atMs + plan.cutMs, action: 'mend', node: s.node })
    }
    // the same draws: every fault that is no cut is what the plan without cuts has there
    const before = planNemesis({ ...plan, cutShare: 0 })
    const faults = (xs: typeof steps) => xs.filter((x) => ['kill', 'freeze', 'cut'].includes(x.action))
    const without = new Map(faults(before).map((x) => [x.atMs, x.action]))
    for (const f of faults(steps)) {
      if (f.action === 'freeze') expect(without.get(f.atMs)).toBe('freeze')
      if (f.action === 'kill') expect(without.get(f.atMs)).toBe('kill')
    }
    expect(countActions(planNemesis({ ...plan, freezeShare: 0, cutShare: 1 })).kill).toBe(0)
    expect(steps.every((x) => x.side === undefined)).toBe(true) // cutPart 1: the node alone
  })

  it('parts up to cutPart nodes, at most half of the mesh, from the rest; the mend lets the same part back', () => {
    const plan = {
      ...BASE,
      nodes: ['n0', 'n1', 'n2', 'n3', 'n4'],
      durationMs: 300_000,
      cutShare: 1,
      cutPart: 4,
    }
    const steps = planNemesis(plan)
    const cuts = steps.filter((x) => x.action === 'cut')
    const sizes = cuts.map((c) => 1 + (c.side?.length ?? 0))
    expect(new Set(sizes)).toEqual(new Set([1, 2])) // 4 asked, 2 of 5 at most
    for (const c of cuts) {
      expect(new Set([c.node, ...(c.side ?? [])]).size).toBe(1 + (c.side?.length ?? 0))
      expect(steps).toContainEqual({ ...c, atMs: c.atMs + plan.frozenMs, action: 'mend' })
    }
    // a part is one fault: no other starts before its mend
    for (const c of cuts) {
      const next = steps.find((x) => x.atMs > c.atMs && !['mend', 'restart', 'thaw'].includes(x.action))
      if (next !== undefined) expect(next.atMs).toBeGreaterThanOrEqual(c.atMs + plan.frozenMs)
    }
  })
})

describe('reexecutions: from the failure to the next start elsewhere', () => {
  const run = (node: string, incarnation: number, startedAt: number, endedAt?: number): Execution => ({
    node,
    incarnation,
    taskId: 'x',
    key: 'k',
    startedAt,
    endedAt,
  })
  const kill: Fault = { kind: 'kill', node: 'a', incarnation: 1, at: 1_000 }

  it('measures each run the failure cut off, to the first later start on another node or life', () => {
    const found = reexecutions(
      [run('a', 1, 900), run('b', 1, 2_500, 2_600), run('a', 2, 4_000, 4_100)],
      [kill],
    )
    expect(found.map((r) => r.delayMs)).toEqual([1_500])
  })

  it('counts a restart of the same node as a re-execution', () => {
    expect(reexecutions([run('a', 1, 900), run('a', 2, 3_000, 3_100)], [kill])[0].delayMs).toBe(2_000)
  })

  it('ignores runs that ended before the failure or started after it, and runs on other nodes', () => {
    expect(
      reexecutions([run('a', 1, 500, 800), run('a', 1, 1_200, 1_300), run('b', 1, 900)], [kill]),
    ).toEqual([])
  })

  it('counts no run of a killed life whose end was logged, even after the time the kill was read', () => {
    // the fault's time is read before the signal is sent: an end logged 12 ms later came first
    expect(reexecutions([run('a', 1, 975, 1_012)], [kill])).toEqual([])
  })

  it('leaves the delay undefined when the task never started again', () => {
    const freeze: Fault = { kind: 'freeze', node: 'a', incarnation: 1, at: 1_000 }
    expect(reexecutions([run('a', 1, 900, 3_000)], [freeze])).toEqual([{ taskId: 'x', fault: freeze }])
  })
})
