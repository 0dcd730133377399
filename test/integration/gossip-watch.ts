import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'

/** One gossipsub RPC that reached a node, and whether the node read it. */
export interface SeenRpc {
  from: string
  /** Messages it carried (publishes or forwards). */
  messages: number
  /** False when the node dropped it unread (the sender is below the graylist threshold). */
  accepted: boolean
}

interface GossipsubInternals {
  acceptFrom(id: string): boolean
  handleReceivedRpc(from: { toString(): string }, rpc: { messages?: unknown[] }): Promise<void>
}

/**
 * Records every gossipsub RPC `node` receives and gossipsub's verdict on its sender (its
 * `acceptFrom` check, which drops every RPC of a graylisted peer before reading it). It observes
 * only: both methods still run as before. They exist on gossipsub's implementation but not on its
 * exported interface.
 */
export function watchRpcs(node: TaskmeshNode): SeenRpc[] {
  const pubsub = node.libp2p.services.pubsub as unknown as GossipsubInternals
  if (typeof pubsub.acceptFrom !== 'function' || typeof pubsub.handleReceivedRpc !== 'function') {
    throw new Error('gossipsub no longer has acceptFrom() / handleReceivedRpc()')
  }
  const seen: SeenRpc[] = []
  const acceptFrom = pubsub.acceptFrom.bind(pubsub)
  const handle = pubsub.handleReceivedRpc.bind(pubsub)
  let verdict = true
  pubsub.acceptFrom = (id) => {
    verdict = acceptFrom(id)
    return verdict
  }
  pubsub.handleReceivedRpc = (from, rpc) => {
    verdict = true
    // the verdict is taken synchronously, before the handler's first await
    const done = handle(from, rpc)
    seen.push({ from: from.toString(), messages: rpc.messages?.length ?? 0, accepted: verdict })
    return done
  }
  return seen
}
