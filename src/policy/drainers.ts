import { positive } from './capacity.ts'
import type { NodeOffer } from './types.ts'

/** How long a thief counts as draining an owner's queue after its last steal request, ms. */
export const DRAINER_WINDOW_MS = 500

/** The capacity that drains an owner's queue besides one thief: the owner's and other recent thieves'. */
export interface OtherDrainers {
  /** Σ slots × speed. */
  capacity: number
  /** Σ slots. */
  slots: number
}

/** What the owner knows of a thief that asked it. */
interface Drainer {
  offer: NodeOffer
  speed: number
  at: number
}

/**
 * The thieves that asked an owner for work lately, with the capacity each reported: what drains
 * the owner's queue besides the thief asking now. Only what does drain it counts: a thief that
 * stopped asking (busy elsewhere, gone) drops out after `windowMs`; one that cannot run all the
 * asker runs (a handler type, a label, the memory) does not count against it; and while the
 * owner granted nothing for `windowMs`, nothing counts — askers that take nothing drain nothing,
 * so a rule built on them never leaves tasks waiting for them.
 */
export class Drainers {
  private readonly seen = new Map<string, Drainer>()
  private grantedAt = Number.NEGATIVE_INFINITY

  constructor(private readonly windowMs = DRAINER_WINDOW_MS) {}

  /** Notes a steal request of `peer` at `now` (ms), with the offer and speed it reported. */
  note(peer: string, offer: NodeOffer, speed: number, now: number): void {
    const known = this.seen.get(peer)
    if (known !== undefined) {
      known.offer = offer
      known.speed = speed
      known.at = now
      return
    }
    this.seen.set(peer, { offer, speed, at: now })
  }

  /** Notes that the owner leased tasks at `now` (ms): its queue is being drained. */
  granted(now: number): void {
    this.grantedAt = now
  }

  /**
   * The owner's capacity (`own`, when its offer, if given, runs whatever the asker runs) plus that
   * of every thief but `asker` that asked within the window and runs whatever the asker runs;
   * thieves out of the window are forgotten. Nothing (0, 0) while the owner granted nothing
   * within the window.
   */
  others(
    asker: { peer: string; offer: NodeOffer },
    own: { slots: number; speed: number; offer?: NodeOffer },
    now: number,
  ): OtherDrainers {
    if (now - this.grantedAt > this.windowMs) return { capacity: 0, slots: 0 }
    const ownRuns = own.offer === undefined || covers(own.offer, asker.offer)
    let capacity = ownRuns ? positive(own.slots) * positive(own.speed) : 0
    let slots = capacity > 0 ? positive(own.slots) : 0
    for (const [peer, d] of this.seen) {
      if (now - d.at > this.windowMs) {
        this.seen.delete(peer)
        continue
      }
      if (peer === asker.peer || !covers(d.offer, asker.offer)) continue
      const c = positive(d.offer.slots) * positive(d.speed)
      if (c === 0) continue
      capacity += c
      slots += d.offer.slots
    }
    return { capacity, slots }
  }
}

/** True when `a` offers every handler type and label `b` offers, and at least its memory. */
function covers(a: NodeOffer, b: NodeOffer): boolean {
  if (a === b) return true
  if (!(a.memoryMb >= b.memoryMb)) return false
  for (const type of b.types) if (!a.types.includes(type)) return false
  for (const label of b.labels) if (!a.labels.includes(label)) return false
  return true
}
