import { describe, expect, it } from 'vitest'
import { encodeMessage } from '../../../src/protocol/codec.ts'
import { MAX_BEACON_BYTES, MAX_HOT_PEERS } from '../../../src/protocol/constants.ts'
import { decodeBeacon } from '../../../src/protocol/messages/beacon-messages.ts'
import { custodyReplySchema, decodeCustodyFrame } from '../../../src/protocol/messages/custody-messages.ts'
import { makeBeacon, makeTask, OWNER } from '../fixtures.ts'

const hot = (n: number) => {
  const { v: _v, seq: _s, sentAt: _t, ...load } = makeBeacon()
  return { peerId: `peer-${n}`, addrs: ['/ip4/127.0.0.1/tcp/4010'], ageMs: 250, ...load }
}

describe('beacon frames', () => {
  it('decodes a beacon with and without a hot list', () => {
    expect(decodeBeacon(encodeMessage(makeBeacon()))).toEqual(makeBeacon())
    const withHot = { ...makeBeacon(), hot: [hot(1), hot(2)] }
    expect(decodeBeacon(encodeMessage(withHot))).toEqual(withHot)
  })

  it('refuses a malformed or oversized beacon, and a hot list too long, saying what is wrong', () => {
    expect(() => decodeBeacon(encodeMessage({ ...makeBeacon(), slots: 'many' }))).toThrow(
      'beacon: slots: expected number',
    )
    const big = {
      ...makeBeacon(),
      labels: Array.from({ length: 200 }, (_, i) => `label-${'x'.repeat(80)}-${i}`),
    }
    expect(() => decodeBeacon(encodeMessage(big))).toThrow(`over the limit of ${MAX_BEACON_BYTES}`)
    const tooHot = { ...makeBeacon(), hot: Array.from({ length: MAX_HOT_PEERS + 1 }, (_, i) => hot(i)) }
    expect(() => decodeBeacon(encodeMessage(tooHot))).toThrow(/beacon: hot/)
    const badAddr = { ...makeBeacon(), hot: [{ ...hot(1), addrs: ['x'.repeat(300)] }] }
    expect(() => decodeBeacon(encodeMessage(badAddr))).toThrow(/beacon: hot\[0\]\.addrs\[0\]: Too big/)
  })
})

describe('custody frames', () => {
  const custodians = [{ peerId: OWNER, addrs: ['/ip4/127.0.0.1/tcp/1'] }]

  it('decodes hold and drop frames', () => {
    const hold = { type: 'hold', requestId: 'r1', custodians, tasks: [makeTask(0), makeTask(1)] }
    expect(decodeCustodyFrame(encodeMessage(hold))).toEqual(hold)
    const drop = { type: 'drop', requestId: 'r2', ids: [makeTask(0).id] }
    expect(decodeCustodyFrame(encodeMessage(drop))).toEqual(drop)
    const forget = { type: 'forget', requestId: 'r3' }
    expect(decodeCustodyFrame(encodeMessage(forget))).toEqual(forget)
    expect(() => decodeCustodyFrame(encodeMessage({ ...forget, ids: [] }))).toThrow(/custody frame/)
  })

  it('decodes a query and its known reply; refuses a query without ids or owner', () => {
    const query = { type: 'query', requestId: 'r4', owner: OWNER, ids: [makeTask(0).id] }
    expect(decodeCustodyFrame(encodeMessage(query))).toEqual(query)
    expect(() => decodeCustodyFrame(encodeMessage({ ...query, ids: [] }))).toThrow(/custody frame: ids/)
    expect(() => decodeCustodyFrame(encodeMessage({ ...query, owner: '' }))).toThrow(/custody frame: owner/)
    const known = { type: 'known', requestId: 'r4', guarded: [makeTask(0).id], taken: [] }
    expect(custodyReplySchema.parse(known)).toEqual(known)
    expect(() => custodyReplySchema.parse({ ...known, guarded: ['not an id'] })).toThrow()
  })

  it('refuses frames with no custodian, an unknown field or a malformed task; no task is a list update', () => {
    const base = { type: 'hold', requestId: 'r', custodians, tasks: [makeTask(0)] }
    expect(decodeCustodyFrame(encodeMessage({ ...base, tasks: [] }))).toMatchObject({
      type: 'hold',
      tasks: [],
    })
    expect(() => decodeCustodyFrame(encodeMessage({ ...base, custodians: [] }))).toThrow(
      /custody frame: custodians/,
    )
    expect(() => decodeCustodyFrame(encodeMessage({ ...base, extra: 1 }))).toThrow(/custody frame/)
    const broken = { ...makeTask(0), spec: { ...makeTask(0).spec, timeoutMs: -1 } }
    expect(() => decodeCustodyFrame(encodeMessage({ ...base, tasks: [broken] }))).toThrow(
      /custody frame: tasks\[0\]\.spec\.timeoutMs/,
    )
  })
})
