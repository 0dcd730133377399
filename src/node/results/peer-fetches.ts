import { MAX_TASKS_PER_MESSAGE } from '../../protocol/constants.ts'
import type { FetchReply, FetchRequest } from '../../protocol/messages/fetch-messages.ts'
import { fromBase64 } from '../../util/base64.ts'

type Resolve = (value: Uint8Array | undefined) => void

/**
 * Records read from a named peer (the executor a result notice names), gathered per peer over the
 * fetch protocol: the reads asked in one turn of the event loop go to each peer in frames of up to
 * 1,000 tasks — where each was a submit-protocol request on a stream of its own, and a node
 * following 5,000 results of another owner opened 1,200 streams. The values are not checked here:
 * the caller opens them as any reader does. A peer that does not answer gets a read of its own
 * per task (`fallback`: a peer without the fetch protocol).
 */
export class PeerFetches {
  private pending = new Map<string, Map<string, Resolve[]>>()
  private scheduled = false

  constructor(
    private readonly request: (peer: string, frame: FetchRequest) => Promise<FetchReply>,
    private readonly fallback: (peer: string, taskId: string) => Promise<Uint8Array | undefined>,
  ) {}

  /** The record value `peer` stores for the task, if any (read with the others of this turn). */
  valueAt(peer: string, taskId: string): Promise<Uint8Array | undefined> {
    return new Promise<Uint8Array | undefined>((resolve) => {
      let ids = this.pending.get(peer)
      if (ids === undefined) {
        ids = new Map()
        this.pending.set(peer, ids)
      }
      const waiting = ids.get(taskId)
      if (waiting === undefined) ids.set(taskId, [resolve])
      else waiting.push(resolve)
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  private flush(): void {
    this.scheduled = false
    const batch = this.pending
    this.pending = new Map()
    for (const [peer, ids] of batch) void this.readFrom(peer, ids)
  }

  /** Reads `ids` from `peer`, frame after frame; each read is resolved (never rejected). */
  private async readFrom(peer: string, ids: Map<string, Resolve[]>): Promise<void> {
    const settle = (id: string, value: Uint8Array | undefined) => {
      for (const resolve of ids.get(id) ?? []) resolve(value)
    }
    let left = [...ids.keys()]
    while (left.length > 0) {
      const asked = left.slice(0, MAX_TASKS_PER_MESSAGE)
      const reply = await this.request(peer, {
        type: 'fetch',
        requestId: crypto.randomUUID(),
        ids: asked,
      }).catch(() => undefined)
      if (reply?.type !== 'fetched' || reply.upTo === 0) {
        for (const id of left)
          this.fallback(peer, id).then(
            (v) => settle(id, v),
            () => settle(id, undefined),
          )
        return
      }
      const held = new Map(reply.held.map((h) => [h.index, h.value]))
      for (let i = 0; i < reply.upTo; i++) {
        const value = held.get(i)
        settle(asked[i], value === undefined ? undefined : fromBase64(value))
      }
      left = left.slice(reply.upTo)
    }
  }
}
