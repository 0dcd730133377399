import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score'
import { createTopicScoreParams } from '@libp2p/gossipsub/score'
import { CONTESTED_TOPIC, RESULTS_TOPIC } from '../../protocol/constants.ts'

/**
 * Gossipsub peer-score thresholds of a taskmesh node (gossipsub's own values, set explicitly so
 * the rules below do not move with a dependency upgrade):
 *
 * - below `gossipThreshold` (−10) a peer gets no gossip (IHAVE/IWANT) from the node and its gossip
 *   is ignored;
 * - below `publishThreshold` (−50) the node does not flood-publish its own messages to it;
 * - below `graylistThreshold` (−80) every RPC from the peer is dropped unread: its messages,
 *   subscriptions and control messages are ignored.
 */
export const GOSSIP_SCORE_THRESHOLDS: PeerScoreThresholds = {
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  acceptPXThreshold: 10,
  opportunisticGraftThreshold: 20,
}

/** P₄ weight: one rejected message scores −100 in a topic, below the graylist threshold at once. */
export const INVALID_MESSAGE_WEIGHT = -100

/**
 * Per-second decay of a peer's count of rejected messages: the count falls to 1 % in an hour. One
 * rejected message (score −100 × count²) keeps its sender graylisted for about 87 s and below the
 * gossip threshold for about 15 minutes; each further rejection raises the count by one.
 */
export const INVALID_MESSAGE_DECAY = 0.01 ** (1 / 3600)

/**
 * Score parameters of one taskmesh topic: only rejected messages count (P₄); the positive
 * components are off, so a peer's score is never above 0 and no peer earns gossipsub's
 * accept-from whitelist (which would let it skip the graylist check for a while).
 */
function topicParams(): TopicScoreParams {
  return createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0,
    firstMessageDeliveriesWeight: 0,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: INVALID_MESSAGE_WEIGHT,
    invalidMessageDeliveriesDecay: INVALID_MESSAGE_DECAY,
  })
}

/**
 * The node's gossipsub score parameters: every taskmesh topic scored (topic scores are off by
 * default in gossipsub, so a `Reject` would cost nothing), and no IP-colocation penalty (every
 * peer of a loopback or NATed mesh shares an IP; past 10 peers gossipsub's default would
 * graylist them all). A disconnected peer's score is kept for gossipsub's default hour, so
 * reconnecting does not clear it.
 */
export function gossipScoreParams(): Partial<PeerScoreParams> {
  return {
    IPColocationFactorWeight: 0,
    topics: { [RESULTS_TOPIC]: topicParams(), [CONTESTED_TOPIC]: topicParams() },
  }
}
