import type { FetchReply, FetchRequest } from '../../protocol/messages/fetch-messages.ts'
import { Batcher } from '../../util/batcher.ts'
import { fetchFrom } from './batch-lookup.ts'

type Resolve = (value: Uint8Array | undefined) => void

/** One read asked of a peer. */
interface Read {
  peer: string
  taskId: string
  resolve: Resolve
}

/**
 * Records read from a named peer (the executor a result notice names), gathered per peer over the
 * fetch protocol: the reads asked in one turn of the event loop go to each peer in frames of up to
 * 1,000 tasks — where each was a submit-protocol request on a stream of its own, and a node
 * following 5,000 results of another owner opened 1,200 streams. The values are not checked here:
 * the caller opens them as any reader does. A peer that does not answer gets a read of its own
 * per task (`fallback`: a peer without the fetch protocol).
 */
export class PeerFetches {
  /** The reads asked, handed over on the next turn of the event loop. */
  private readonly reads = new Batcher<Read>(0, (reads) => this.flush(reads))

  constructor(
    private readonly request: (peer: string, frame: FetchRequest) => Promise<FetchReply>,
    private readonly fallback: (peer: string, taskId: string) => Promise<Uint8Array | undefined>,
  ) {}

  /** The record value `peer` stores for the task, if any (read with the others of this turn). */
  valueAt(peer: string, taskId: string): Promise<Uint8Array | undefined> {
    return new Promise<Uint8Array | undefined>((resolve) => this.reads.add({ peer, taskId, resolve }))
  }

  private flush(reads: Read[]): void {
    const byPeer = new Map<string, Map<string, Resolve[]>>()
    for (const { peer, taskId, resolve } of reads) {
      let ids = byPeer.get(peer)
      if (ids === undefined) {
        ids = new Map()
        byPeer.set(peer, ids)
      }
      const waiting = ids.get(taskId)
      if (waiting === undefined) ids.set(taskId, [resolve])
      else waiting.push(resolve)
    }
    for (const [peer, ids] of byPeer) void this.readFrom(peer, ids)
  }

  /** Reads `ids` from `peer`, frame after frame; each read is resolved (never rejected). */
  private async readFrom(peer: string, ids: Map<string, Resolve[]>): Promise<void> {
    const values = new Map<string, Uint8Array>()
    const { answered, left } = await fetchFrom(
      (frame) => this.request(peer, frame),
      [...ids.keys()],
      (id, value) => values.set(id, value),
    )
    const settle = (id: string, value: Uint8Array | undefined) => {
      for (const resolve of ids.get(id) ?? []) resolve(value)
    }
    // an id answered for and not held has no record there
    for (const id of answered) settle(id, values.get(id))
    for (const id of left)
      this.fallback(peer, id).then(
        (v) => settle(id, v),
        () => settle(id, undefined),
      )
  }
}
