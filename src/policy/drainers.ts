import { positive } from './capacity.ts'

/** How long a thief counts as draining an owner's queue after its last steal request, ms. */
export const DRAINER_WINDOW_MS = 500

/** The capacity that drains an owner's queue besides one thief: the owner's and other recent thieves'. */
export interface OtherDrainers {
  /** Σ slots × speed. */
  capacity: number
  /** Σ slots. */
  slots: number
}

/**
 * The thieves that asked an owner for work lately, with the capacity each reported: what drains
 * the owner's queue besides the thief asking now. A thief that stopped asking (busy elsewhere,
 * gone) drops out after `windowMs`, so the figure never counts capacity that does not come.
 */
export class Drainers {
  private readonly seen = new Map<string, { slots: number; speed: number; at: number }>()

  constructor(private readonly windowMs = DRAINER_WINDOW_MS) {}

  /** Notes a steal request of `peer` at `now` (ms). */
  note(peer: string, slots: number, speed: number, now: number): void {
    const known = this.seen.get(peer)
    if (known !== undefined) {
      known.slots = slots
      known.speed = speed
      known.at = now
      return
    }
    this.seen.set(peer, { slots, speed, at: now })
  }

  /**
   * The owner's capacity (`own`) plus that of every thief but `except` that asked within the
   * window; thieves out of it are forgotten.
   */
  others(except: string, own: { slots: number; speed: number }, now: number): OtherDrainers {
    let capacity = positive(own.slots) * positive(own.speed)
    let slots = positive(own.slots) * (capacity > 0 ? 1 : 0)
    for (const [peer, d] of this.seen) {
      if (now - d.at > this.windowMs) {
        this.seen.delete(peer)
        continue
      }
      if (peer === except) continue
      const c = positive(d.slots) * positive(d.speed)
      if (c === 0) continue
      capacity += c
      slots += d.slots
    }
    return { capacity, slots }
  }
}
