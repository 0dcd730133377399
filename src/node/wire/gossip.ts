import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { encodeMessage } from '../../protocol/codec.ts'
import {
  CAPACITY_TOPIC,
  MAX_ANNOUNCEMENT_BYTES,
  MAX_NOTICES_PER_MESSAGE,
  MAX_TASKS_PER_MESSAGE,
  RESULTS_TOPIC,
  TASKS_TOPIC,
} from '../../protocol/constants.ts'
import { checkAnnouncement, checkBeacon, checkResultNotice } from '../../protocol/gossip-validators.ts'
import type { Announcement, Beacon, ResultNotice } from '../../protocol/messages.ts'
import type { Task } from '../../task/task.ts'
import { createTopicCounts, type TopicCounts } from '../accounting/accounting.ts'
import type { MeshLibp2p } from './libp2p-factory.ts'

/** What the node does with each kind of (already validated) gossip. */
export interface GossipHandlers {
  onAnnouncement(from: string, msg: Announcement): void
  onBeacon(from: string, msg: Beacon): void
  onResultNotice(from: string, msg: ResultNotice): void
}

const TOPICS = [TASKS_TOPIC, CAPACITY_TOPIC, RESULTS_TOPIC]
const textEncoder = new TextEncoder()
/** Room left in an announcement for its envelope (`{"v":1,"tasks":[…]}`), bytes. */
const ANNOUNCEMENT_ENVELOPE_BYTES = 1024

/**
 * The announcements of `tasks`, in order: as few messages as fit (at most `MAX_TASKS_PER_MESSAGE`
 * tasks, under the size limit, each). Each task is serialised once: its JSON both sizes the batch
 * and goes into the message.
 */
export function encodeAnnouncements(tasks: Task[]): Uint8Array[] {
  const messages: Uint8Array[] = []
  let batch: string[] = []
  let bytes = 0
  const flush = () => {
    messages.push(textEncoder.encode(`{"v":1,"tasks":[${batch.join(',')}]}`))
    batch = []
    bytes = 0
  }
  for (const task of tasks) {
    const json = JSON.stringify(task)
    const size = Buffer.byteLength(json)
    const full = batch.length >= MAX_TASKS_PER_MESSAGE
    if (batch.length > 0 && (full || bytes + size > MAX_ANNOUNCEMENT_BYTES - ANNOUNCEMENT_ENVELOPE_BYTES))
      flush()
    batch.push(json)
    bytes += size + 1
  }
  if (batch.length > 0) flush()
  return messages
}

/** What a validated message decoded to, by topic. */
type Decoded =
  | { topic: typeof TASKS_TOPIC; value: Announcement }
  | { topic: typeof CAPACITY_TOPIC; value: Beacon }
  | { topic: typeof RESULTS_TOPIC; value: ResultNotice }

/**
 * The node's three gossipsub topics: registers a validator per topic (malformed or oversized
 * messages are rejected, which lowers the sender's score), subscribes, and dispatches
 * validated messages. Each message is decoded once: the validator keeps what it decoded for the
 * dispatch (gossipsub hands both the same message object). Publishing never throws: a node alone
 * simply reaches nobody.
 */
export class MeshGossip {
  private readonly listener = (evt: CustomEvent<Message>) => this.dispatch(evt.detail)
  private readonly decoded = new WeakMap<Message, Decoded>()
  private handlers: GossipHandlers | undefined

  /** @param counts where messages and bytes are counted per topic (published, received and accepted). */
  constructor(
    private readonly libp2p: MeshLibp2p,
    private readonly counts: Record<string, TopicCounts> = {},
  ) {
    for (const topic of TOPICS) counts[topic] ??= createTopicCounts()
  }

  /** Sends validated gossip to `handlers` (before {@link start}; none is dispatched without). */
  listen(handlers: GossipHandlers): void {
    this.handlers = handlers
  }

  start(): void {
    const pubsub = this.libp2p.services.pubsub
    pubsub.topicValidators.set(
      TASKS_TOPIC,
      this.validator((m) => ({ topic: TASKS_TOPIC, value: checkAnnouncement(m) })),
    )
    pubsub.topicValidators.set(
      CAPACITY_TOPIC,
      this.validator((m) => ({ topic: CAPACITY_TOPIC, value: checkBeacon(m) })),
    )
    pubsub.topicValidators.set(
      RESULTS_TOPIC,
      this.validator((m) => ({ topic: RESULTS_TOPIC, value: checkResultNotice(m) })),
    )
    pubsub.addEventListener('message', this.listener)
    for (const topic of TOPICS) pubsub.subscribe(topic)
  }

  stop(): void {
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

  /** Peers subscribed to the capacity topic (the mesh as gossip sees it). */
  subscribers(): string[] {
    return this.libp2p.services.pubsub.getSubscribers(CAPACITY_TOPIC).map((p) => p.toString())
  }

  async publishAnnouncement(msg: Announcement): Promise<void> {
    await this.publish(TASKS_TOPIC, msg)
  }

  async publishBeacon(msg: Beacon): Promise<void> {
    await this.publish(CAPACITY_TOPIC, msg)
  }

  async publishNotice(msg: ResultNotice): Promise<void> {
    await this.publish(RESULTS_TOPIC, msg)
  }

  /** Announces tasks in as few messages as fit (see {@link encodeAnnouncements}). */
  async announceTasks(tasks: Task[]): Promise<void> {
    for (const bytes of encodeAnnouncements(tasks)) await this.publishBytes(TASKS_TOPIC, bytes)
  }

  /** Gossips results in as few notices as fit (one signature, one verify per peer, each). */
  publishNotices(results: ResultNotice['results']): void {
    for (let i = 0; i < results.length; i += MAX_NOTICES_PER_MESSAGE) {
      void this.publishNotice({ v: 1, results: results.slice(i, i + MAX_NOTICES_PER_MESSAGE) })
    }
  }

  private async publish(topic: string, msg: unknown): Promise<void> {
    await this.publishBytes(topic, encodeMessage(msg))
  }

  private async publishBytes(topic: string, bytes: Uint8Array): Promise<void> {
    const counts = this.counts[topic]
    counts.published++
    counts.publishedBytes += bytes.byteLength
    try {
      await this.libp2p.services.pubsub.publish(topic, bytes)
    } catch {
      // no peers yet, or stopping: gossip is best effort, beacons repeat and results live in the DHT
    }
  }

  /** A topic validator that keeps the decoded message for {@link dispatch}. Never throws. */
  private validator(check: (message: Message) => Decoded) {
    return (_peer: PeerId, message: Message): TopicValidatorResult => {
      const counts = this.counts[message.topic]
      if (counts !== undefined) {
        counts.received++
        counts.receivedBytes += message.data.byteLength
      }
      try {
        this.decoded.set(message, check(message))
        return TopicValidatorResult.Accept
      } catch {
        return TopicValidatorResult.Reject
      }
    }
  }

  private dispatch(msg: Message): void {
    const { handlers } = this
    if (msg.type !== 'signed' || handlers === undefined) return
    const decoded = this.decoded.get(msg)
    if (decoded === undefined) return // not validated here (a topic of someone else's)
    this.decoded.delete(msg)
    const from = msg.from.toString()
    if (decoded.topic === TASKS_TOPIC) handlers.onAnnouncement(from, decoded.value)
    else if (decoded.topic === CAPACITY_TOPIC) handlers.onBeacon(from, decoded.value)
    else handlers.onResultNotice(from, decoded.value)
  }
}
