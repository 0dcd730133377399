import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import { describe, expect, it } from 'vitest'
import { encodeMessage } from '../../src/protocol/codec.ts'
import { CAPACITY_TOPIC, MAX_BEACON_BYTES, RESULTS_TOPIC, TASKS_TOPIC } from '../../src/protocol/constants.ts'
import { InvalidMessageError } from '../../src/protocol/errors.ts'
import {
  decodeAnnouncement,
  decodeBeacon,
  decodeResultNotice,
  validateAnnouncement,
  validateBeacon,
  validateResultNotice,
} from '../../src/protocol/gossip-validators.ts'
import { recordToBase64, signResultRecord } from '../../src/protocol/result-record.ts'
import {
  executorKey,
  makeBeacon,
  makeNotice,
  makeRecord,
  makeTask,
  relay,
  STRANGER,
  signedMessage,
  strangerKey,
} from './fixtures.ts'

const { Accept, Reject } = TopicValidatorResult

describe('announcement validator', () => {
  const announcement = { v: 1, tasks: [makeTask(0), makeTask(1)] }

  it('accepts tasks owned by the signer and decodes them', () => {
    const msg = signedMessage(TASKS_TOPIC, encodeMessage(announcement))
    expect(validateAnnouncement(relay, msg)).toBe(Accept)
    expect(decodeAnnouncement(msg.data)).toEqual(announcement)
  })

  it('rejects a task owned by someone other than the signer', () => {
    const mixed = { v: 1, tasks: [makeTask(0), makeTask(1, STRANGER)] }
    expect(validateAnnouncement(relay, signedMessage(TASKS_TOPIC, encodeMessage(mixed)))).toBe(Reject)
    expect(
      validateAnnouncement(relay, signedMessage(TASKS_TOPIC, encodeMessage(announcement), strangerKey)),
    ).toBe(Reject)
  })

  it('rejects unsigned messages', () => {
    const msg: Message = { type: 'unsigned', topic: TASKS_TOPIC, data: encodeMessage(announcement) }
    expect(validateAnnouncement(relay, msg)).toBe(Reject)
  })

  it('rejects malformed and oversized data', () => {
    expect(validateAnnouncement(relay, signedMessage(TASKS_TOPIC, new Uint8Array([1, 2])))).toBe(Reject)
    const huge = { v: 1, tasks: [{ ...makeTask(), nonce: 'n'.repeat(2_000_000) }] }
    expect(validateAnnouncement(relay, signedMessage(TASKS_TOPIC, encodeMessage(huge)))).toBe(Reject)
    expect(() => decodeAnnouncement(encodeMessage(huge))).toThrow(/over the limit of 1048576/)
  })
})

describe('beacon validator', () => {
  it('accepts a good beacon and decodes it', () => {
    const msg = signedMessage(CAPACITY_TOPIC, encodeMessage(makeBeacon()))
    expect(validateBeacon(relay, msg)).toBe(Accept)
    expect(decodeBeacon(msg.data)).toEqual(makeBeacon())
  })

  it('rejects bad, oversized and unsigned beacons', () => {
    const bad = encodeMessage({ ...makeBeacon(), slots: 'many' })
    expect(validateBeacon(relay, signedMessage(CAPACITY_TOPIC, bad))).toBe(Reject)
    expect(() => decodeBeacon(bad)).toThrow('beacon: slots: expected number')
    const big = encodeMessage({
      ...makeBeacon(),
      types: Array.from({ length: 256 }, (_, i) => `t${i}-${'x'.repeat(58)}`.slice(0, 64)),
    })
    expect(big.byteLength).toBeGreaterThan(MAX_BEACON_BYTES)
    expect(validateBeacon(relay, signedMessage(CAPACITY_TOPIC, big))).toBe(Reject)
    expect(() => decodeBeacon(big)).toThrow(`over the limit of ${MAX_BEACON_BYTES}`)
    const unsigned: Message = { type: 'unsigned', topic: CAPACITY_TOPIC, data: encodeMessage(makeBeacon()) }
    expect(validateBeacon(relay, unsigned)).toBe(Reject)
  })
})

describe('result notice validator', () => {
  it('accepts a notice without a record', async () => {
    const msg = signedMessage(RESULTS_TOPIC, encodeMessage(makeNotice()))
    expect(await validateResultNotice(relay, msg)).toBe(Accept)
    expect(decodeResultNotice(msg.data)).toEqual(makeNotice())
  })

  it('accepts a notice embedding the matching signed record', async () => {
    const record = recordToBase64(await signResultRecord(makeRecord(), executorKey))
    const msg = signedMessage(RESULTS_TOPIC, encodeMessage(makeNotice({ record })))
    expect(await validateResultNotice(relay, msg)).toBe(Accept)
  })

  it('rejects a notice whose record is for another task, mismatched, or forged', async () => {
    const other = recordToBase64(await signResultRecord(makeRecord({ taskId: makeTask(4).id }), executorKey))
    const mismatched = recordToBase64(await signResultRecord(makeRecord({ epoch: 1 }), executorKey))
    const forged = recordToBase64(
      new TextEncoder().encode(
        new TextDecoder()
          .decode(await signResultRecord(makeRecord(), executorKey))
          .replace('"epoch":2', '"epoch":3'),
      ),
    )
    for (const [record, fields] of [
      [other, {}],
      [mismatched, {}],
      [forged, { epoch: 3 }],
    ] as const) {
      const msg = signedMessage(RESULTS_TOPIC, encodeMessage(makeNotice({ record, ...fields })))
      expect(await validateResultNotice(relay, msg)).toBe(Reject)
    }
  })

  it('rejects junk and unsigned notices, and decode names the problem', async () => {
    expect(await validateResultNotice(relay, signedMessage(RESULTS_TOPIC, new Uint8Array([0xff])))).toBe(
      Reject,
    )
    const unsigned: Message = { type: 'unsigned', topic: RESULTS_TOPIC, data: encodeMessage(makeNotice()) }
    expect(await validateResultNotice(relay, unsigned)).toBe(Reject)
    expect(() => decodeResultNotice(encodeMessage({ ...makeNotice(), epoch: -1 }))).toThrow(
      InvalidMessageError,
    )
  })
})
