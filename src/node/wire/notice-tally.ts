import { monotonicNow } from '../../util/clock.ts'

/** How long one count of {@link NoticeTally} runs, ms: a minute. */
export const NOTICE_TALLY_WINDOW_MS = 60_000
/** Signers a count keeps at most (the ones sending the fewest entries are dropped past it). */
const MAX_SIGNERS = 10_000

/** Result notices received from one signer. */
export interface SignerTally {
  peerId: string
  messages: number
  entries: number
}

/**
 * The result notices this node accepted, counted per signer over the last one to two minutes (the
 * count of the minute before and the one under way): who fills the gossip. Honest executors send
 * one entry per record they store; a member flooding notices of tasks that do not exist shows at
 * the top, by its peer id, for the operator to deny it.
 */
export class NoticeTally {
  private current = new Map<string, SignerTally>()
  private previous = new Map<string, SignerTally>()
  private since = monotonicNow()

  /** A notice of `entries` results signed by `signer` was accepted. */
  note(signer: string, entries: number): void {
    this.roll()
    let tally = this.current.get(signer)
    if (tally === undefined) {
      if (this.current.size >= MAX_SIGNERS) this.dropSmallest()
      tally = { peerId: signer, messages: 0, entries: 0 }
      this.current.set(signer, tally)
    }
    tally.messages++
    tally.entries += entries
  }

  /** The `n` signers of the most entries over both counts, most first. */
  top(n: number): SignerTally[] {
    this.roll()
    const sum = new Map<string, SignerTally>()
    for (const count of [this.previous, this.current]) {
      for (const t of count.values()) {
        const s = sum.get(t.peerId) ?? { peerId: t.peerId, messages: 0, entries: 0 }
        s.messages += t.messages
        s.entries += t.entries
        sum.set(t.peerId, s)
      }
    }
    return [...sum.values()].sort((a, b) => b.entries - a.entries || b.messages - a.messages).slice(0, n)
  }

  private roll(): void {
    const now = monotonicNow()
    if (now - this.since < NOTICE_TALLY_WINDOW_MS) return
    // a count older than two windows is of no interest: both restart
    this.previous = now - this.since < 2 * NOTICE_TALLY_WINDOW_MS ? this.current : new Map()
    this.current = new Map()
    this.since = now
  }

  private dropSmallest(): void {
    let smallest: SignerTally | undefined
    for (const t of this.current.values())
      if (smallest === undefined || t.entries < smallest.entries) smallest = t
    if (smallest !== undefined) this.current.delete(smallest.peerId)
  }
}
