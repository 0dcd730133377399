import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { encodeMessage } from '../../protocol/codec.ts'
import { CONTESTED_TOPIC, MAX_NOTICES_PER_MESSAGE, RESULTS_TOPIC } from '../../protocol/constants.ts'
import { checkResultNotice } from '../../protocol/messages/gossip-validators.ts'
import type { ResultNotice } from '../../protocol/messages/messages.ts'
import { chunksOf } from '../../util/frame-chunks.ts'
import { createTopicCounts, type TopicCounts } from '../accounting/accounting.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'
import { NoticeTally } from './notice-tally.ts'

/** What the node does with a (validated) result notice. */
export interface GossipHandlers {
  /** `contested`: it came on the contested topic (its record may lose to another run's). */
  onResultNotice(from: string, msg: ResultNotice, contested: boolean): void
}

const TOPICS = [RESULTS_TOPIC, CONTESTED_TOPIC]

/** A notice to gossip, and whether its record is contested (see {@link MeshGossip}). */
export interface NoticeItem {
  notice: ResultNotice['results'][number]
  contested: boolean
  /** Sent before, and again for peers that missed it (`ResultPublisher.recontest`): on the contested topic alone. */
  again?: boolean
}

/**
 * The node's gossip: result notices only, on two topics.
 *
 * - `taskmesh/results/1` carries a notice of every record an executor stores. A node subscribes
 *   only while someone here waits for a task it neither owns nor holds ({@link want}): the owner
 *   learns of its tasks' results from completions, and most receivers of a broadcast would drop it.
 * - `taskmesh/contested/1` carries the notices of records that may lose to another run of the same
 *   task, or beat one (an epoch above 1: a retry, a lease that ran out or was lost; a task taken
 *   over by adoption or journal replay; a completion its owner called stale or never answered).
 *   Every node subscribes: a node holding the other run's record learns of the one that beats it,
 *   so reads converge on the record the DHT selects. Most records, of epoch 1, go elsewhere.
 *
 * Malformed or oversized messages are rejected (the sender's score drops). Each message is decoded
 * once: the validator keeps what it decoded for the dispatch. Publishing never throws.
 */
export class MeshGossip {
  private readonly listener = (evt: CustomEvent<Message>) => this.dispatch(evt.detail)
  private readonly decoded = new WeakMap<Message, ResultNotice>()
  /** The notices accepted here, per signer (see `NodeStatus.noticeSigners`). */
  readonly signers = new NoticeTally()
  private handlers: GossipHandlers | undefined
  private wanted = false
  private started = false

  /** @param counts where messages and bytes are counted per topic (published, received and accepted). */
  constructor(
    private readonly libp2p: MeshLibp2p,
    private readonly counts: Record<string, TopicCounts> = {},
    /** Told of each message refused (gossipsub then scores its sender below the graylist threshold). */
    private readonly onReject?: (from: string, topic: string, err: Error) => void,
    /** True for a peer this node denies: its own messages are ignored (neither taken nor passed on). */
    private readonly isDenied: (peer: string) => boolean = () => false,
  ) {
    for (const topic of TOPICS) counts[topic] ??= createTopicCounts()
  }

  /** Sends validated notices to `handlers` (before {@link start}; none is dispatched without). */
  listen(handlers: GossipHandlers): void {
    this.handlers = handlers
  }

  start(): void {
    const pubsub = this.libp2p.services.pubsub
    for (const topic of TOPICS) pubsub.topicValidators.set(topic, this.validator())
    pubsub.addEventListener('message', this.listener)
    pubsub.subscribe(CONTESTED_TOPIC)
    if (this.wanted) pubsub.subscribe(RESULTS_TOPIC)
    this.started = true
  }

  stop(): void {
    if (!this.started) return
    this.started = false
    const pubsub = this.libp2p.services.pubsub
    pubsub.removeEventListener('message', this.listener)
    for (const topic of TOPICS) {
      try {
        pubsub.unsubscribe(topic)
      } catch {
        // already stopped
      }
      pubsub.topicValidators.delete(topic)
    }
  }

  /** Subscribes to every record's notices (someone here waits for a remote task), or stops. */
  want(on: boolean): void {
    if (on === this.wanted) return
    this.wanted = on
    if (!this.started) return
    const pubsub = this.libp2p.services.pubsub
    try {
      if (on) pubsub.subscribe(RESULTS_TOPIC)
      else pubsub.unsubscribe(RESULTS_TOPIC)
    } catch {
      // stopping
    }
  }

  /** True while subscribed to every record's notices. */
  get wantsResults(): boolean {
    return this.wanted
  }

  /** Peers subscribed to the contested topic (every node: the mesh as gossip sees it). */
  subscribers(): string[] {
    return this.libp2p.services.pubsub.getSubscribers(CONTESTED_TOPIC).map((p) => p.toString())
  }

  /**
   * Gossips notices in as few messages as fit (one signature, one verify per peer, each): all of
   * them on the results topic, the contested ones on the contested topic too.
   */
  publishNotices(items: NoticeItem[]): void {
    const all = items.filter((i) => i.again !== true).map((i) => i.notice)
    const contested = items.filter((i) => i.contested).map((i) => i.notice)
    this.publishBatches(RESULTS_TOPIC, all)
    this.publishBatches(CONTESTED_TOPIC, contested)
  }

  private publishBatches(topic: string, results: ResultNotice['results']): void {
    for (const batch of chunksOf(results, MAX_NOTICES_PER_MESSAGE))
      void this.publishBytes(topic, encodeMessage({ v: 1, results: batch }))
  }

  private async publishBytes(topic: string, bytes: Uint8Array): Promise<void> {
    const pubsub = this.libp2p.services.pubsub
    // a notice nobody listens to costs nothing: not even its signature
    if (topic === RESULTS_TOPIC && !this.wanted && pubsub.getSubscribers(topic).length === 0) return
    const counts = this.counts[topic]
    counts.published++
    counts.publishedBytes += bytes.byteLength
    try {
      await pubsub.publish(topic, bytes)
    } catch {
      // no peers yet, or stopping: gossip is best effort, and results live in the DHT
    }
  }

  /** A topic validator that keeps the decoded notice for {@link dispatch}. Never throws. */
  private validator() {
    return (peer: PeerId, message: Message): TopicValidatorResult => {
      const counts = this.counts[message.topic]
      if (counts !== undefined) {
        counts.received++
        counts.receivedBytes += message.data.byteLength
      }
      // signed by a denied peer, relayed by another: not the relay's fault (Ignore, not Reject)
      if (message.type === 'signed' && this.isDenied(message.from.toString()))
        return TopicValidatorResult.Ignore
      try {
        const notice = checkResultNotice(message)
        this.decoded.set(message, notice)
        if (message.type === 'signed') this.signers.note(message.from.toString(), notice.results.length)
        return TopicValidatorResult.Accept
      } catch (err) {
        this.onReject?.(peer.toString(), message.topic, err as Error)
        return TopicValidatorResult.Reject
      }
    }
  }

  private dispatch(msg: Message): void {
    const { handlers } = this
    if (msg.type !== 'signed' || handlers === undefined) return
    const notice = this.decoded.get(msg)
    if (notice === undefined) return // not validated here (a topic of someone else's)
    this.decoded.delete(msg)
    handlers.onResultNotice(msg.from.toString(), notice, msg.topic === CONTESTED_TOPIC)
  }
}

/** After the last remote wait ends, the results topic stays subscribed this long, ms (waits come in bursts). */
export const RESULTS_LINGER_MS = 5_000

/**
 * Counts the waits at this node for tasks it neither owns nor holds: while there are any, the node
 * hears every record's notice (see {@link MeshGossip.want}).
 */
export class RemoteWaits {
  private count = 0
  private linger: NodeJS.Timeout | undefined

  constructor(private readonly gossip: Pick<MeshGossip, 'want'>) {}

  /** A remote wait starts; call what it returns once it ends. */
  begin(): () => void {
    this.count++
    clearTimeout(this.linger)
    this.gossip.want(true)
    let ended = false
    return () => {
      if (ended) return
      ended = true
      if (--this.count > 0) return
      this.linger = setTimeout(() => {
        if (this.count === 0) this.gossip.want(false)
      }, RESULTS_LINGER_MS)
      this.linger.unref()
    }
  }
}
