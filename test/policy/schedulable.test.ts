import { describe, expect, it } from 'vitest'
import { schedulability } from '../../src/policy/schedulable.ts'
import type { NodeOffer } from '../../src/policy/types.ts'

const offer = (o: Partial<NodeOffer> = {}): NodeOffer => ({
  types: ['sleep'],
  labels: [],
  slots: 4,
  memoryMb: 1024,
  ...o,
})
const need = (labels: string[] = [], slots = 1, type = 'sleep') => ({
  type,
  resources: { slots, memoryMb: 0, labels },
})
const self = (o: Partial<NodeOffer> = {}) => ({ id: 'self', offer: offer(o) })

describe('schedulability', () => {
  it.each([
    ['runnable here', need(), self(), []],
    [
      'runnable only on a peer with the label',
      need(['gpu']),
      self(),
      [{ peerId: 'p', ...offer({ labels: ['gpu'] }) }],
    ],
    ['runnable on a peer with enough slots', need([], 8), self(), [{ peerId: 'p', ...offer({ slots: 8 }) }]],
  ])('%s', (_name, n, s, peers) => {
    expect(schedulability(n, s, peers)).toEqual({ runnable: true, reasons: [] })
  })

  it('says, node by node, why nobody can run it', () => {
    const result = schedulability(need(['gpu'], 8), self(), [{ peerId: 'p1', ...offer({ types: ['echo'] }) }])
    expect(result.runnable).toBe(false)
    expect(result.reasons).toEqual([
      'self (this node): label "gpu" missing, needs 8 slots, offers 4',
      'p1: handler "sleep" not offered, label "gpu" missing, needs 8 slots, offers 4',
    ])
  })
})
