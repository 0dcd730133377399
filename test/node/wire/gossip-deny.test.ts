import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { describe, expect, it } from 'vitest'
import { MeshGossip } from '../../../src/node/wire/gossip.ts'
import { encodeMessage } from '../../../src/protocol/codec.ts'
import { RESULTS_TOPIC } from '../../../src/protocol/constants.ts'
import { EXECUTOR, executorKey, makeNotice, relay, signedMessage } from '../../protocol/fixtures.ts'

type Validator = (peer: PeerId, message: Message) => TopicValidatorResult

/** A started `MeshGossip` on a pubsub that only records its validators; `denied` are the denied peers. */
function gossipDenying(denied: string[]): Validator {
  const validators = new Map<string, Validator>()
  const pubsub = { topicValidators: validators, addEventListener: () => {}, subscribe: () => {} }
  const gossip = new MeshGossip({ services: { pubsub } } as never, {}, undefined, (p) => denied.includes(p))
  gossip.start()
  const validator = validators.get(RESULTS_TOPIC)
  if (validator === undefined) throw new Error('no validator for the results topic')
  return validator
}

describe('gossip from a denied peer', () => {
  const fromExecutor = signedMessage(RESULTS_TOPIC, encodeMessage(makeNotice()), executorKey)

  it('is ignored, whoever relays it (neither taken nor passed on, and no fault of the relay)', () => {
    expect(gossipDenying([EXECUTOR])(relay, fromExecutor)).toBe(TopicValidatorResult.Ignore)
  })

  it('is judged by its signer: a notice another peer signed is taken, a malformed one refused', () => {
    const validate = gossipDenying([relay.toString()]) // a peer denied, not the signer
    expect(validate(relay, fromExecutor)).toBe(TopicValidatorResult.Accept)
    const garbage = signedMessage(RESULTS_TOPIC, new TextEncoder().encode('{"nope":1}'), executorKey)
    expect(validate(relay, garbage)).toBe(TopicValidatorResult.Reject)
  })
})
