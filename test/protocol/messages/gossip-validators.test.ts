import { type Message, TopicValidatorResult } from '@libp2p/gossipsub'
import { describe, expect, it } from 'vitest'
import { encodeMessage } from '../../../src/protocol/codec.ts'
import { MAX_NOTICE_BYTES, MAX_NOTICES_PER_MESSAGE, RESULTS_TOPIC } from '../../../src/protocol/constants.ts'
import { InvalidMessageError } from '../../../src/protocol/errors.ts'
import { decodeResultNotice, validateResultNotice } from '../../../src/protocol/messages/gossip-validators.ts'
import { recordToBase64, signResultRecord } from '../../../src/protocol/records/result-record.ts'
import {
  EXECUTOR,
  executorKey,
  makeLargestNotice,
  makeNotice,
  makeNoticeEntry,
  makeRecord,
  makeTask,
  relay,
  STRANGER,
  signedMessage,
} from '../fixtures.ts'

const { Accept, Reject } = TopicValidatorResult

describe('result notice validator', () => {
  const notice = (value: unknown, by = executorKey) => signedMessage(RESULTS_TOPIC, encodeMessage(value), by)
  /** The bytes of `value` padded with JSON whitespace to exactly `size` bytes. */
  const padded = (value: unknown, size: number) => {
    const bytes = encodeMessage(value)
    return new TextEncoder().encode(
      `${new TextDecoder().decode(bytes)}${' '.repeat(size - bytes.byteLength)}`,
    )
  }

  it('accepts a one-result notice synchronously and decodes it', () => {
    const msg = notice(makeNotice())
    const verdict = validateResultNotice(relay, msg)
    expect(verdict).not.toBeInstanceOf(Promise)
    expect(verdict).toBe(Accept)
    expect(decodeResultNotice(msg.data)).toEqual(makeNotice())
  })

  it('accepts a batch of results, in order, and names no executor: the signer is the executor', () => {
    const batch = makeNotice([
      makeNoticeEntry(0),
      makeNoticeEntry(1, { status: 'failed', epoch: 0 }),
      makeNoticeEntry(2, { epoch: 9 }),
    ])
    const msg = notice(batch)
    expect(validateResultNotice(relay, msg)).toBe(Accept)
    const decoded = decodeResultNotice(msg.data)
    expect(decoded).toEqual(batch)
    expect(Object.keys(decoded).sort()).toEqual(['results', 'v'])
    expect(msg.type === 'signed' && msg.from.toString()).toBe(EXECUTOR)
  })

  it(`accepts the largest notice, ${MAX_NOTICES_PER_MESSAGE} results at their longest, well within the byte limit`, () => {
    const largest = makeLargestNotice()
    expect(encodeMessage(largest).byteLength).toBeLessThan(MAX_NOTICE_BYTES / 2)
    expect(validateResultNotice(relay, notice(largest))).toBe(Accept)
  })

  it('rejects a notice of no results or of more results than the limit', () => {
    expect(validateResultNotice(relay, notice(makeNotice([])))).toBe(Reject)
    const over = makeLargestNotice(MAX_NOTICES_PER_MESSAGE + 1)
    expect(encodeMessage(over).byteLength).toBeLessThan(MAX_NOTICE_BYTES)
    expect(validateResultNotice(relay, notice(over))).toBe(Reject)
    expect(() => decodeResultNotice(encodeMessage(over))).toThrow('result notice: results: Too big')
  })

  it(`accepts a notice of exactly ${MAX_NOTICE_BYTES} bytes and rejects one byte more`, () => {
    expect(MAX_NOTICE_BYTES).toBe(128 * 1024)
    const atLimit = signedMessage(RESULTS_TOPIC, padded(makeNotice(), MAX_NOTICE_BYTES), executorKey)
    expect(validateResultNotice(relay, atLimit)).toBe(Accept)
    const over = padded(makeNotice(), MAX_NOTICE_BYTES + 1)
    expect(validateResultNotice(relay, signedMessage(RESULTS_TOPIC, over, executorKey))).toBe(Reject)
    expect(() => decodeResultNotice(over)).toThrow(`over the limit of ${MAX_NOTICE_BYTES}`)
  })

  it('rejects the old notice shapes: one result naming its executor at the top, or an embedded record', async () => {
    const record = recordToBase64(await signResultRecord(makeRecord(), executorKey))
    const old = { v: 1, taskId: makeTask().id, status: 'succeeded', executor: EXECUTOR, epoch: 2 }
    expect(validateResultNotice(relay, notice(old))).toBe(Reject)
    expect(validateResultNotice(relay, notice({ ...old, record }))).toBe(Reject)
    expect(validateResultNotice(relay, notice({ ...makeNotice(), executor: EXECUTOR }))).toBe(Reject)
    const withRecord = makeNotice([{ ...makeNoticeEntry(), record } as never])
    expect(validateResultNotice(relay, notice(withRecord))).toBe(Reject)
    expect(() => decodeResultNotice(encodeMessage(withRecord))).toThrow(
      'result notice: results[0]: Unrecognized key: "record"',
    )
  })

  it('accepts a relayed entry naming its executor by peer id, and rejects one naming anything else', () => {
    const relayed = makeNotice([makeNoticeEntry(0), makeNoticeEntry(1, { executor: EXECUTOR })])
    expect(validateResultNotice(relay, notice(relayed))).toBe(Accept)
    expect(decodeResultNotice(encodeMessage(relayed))).toEqual(relayed)
    const bad = makeNotice([makeNoticeEntry(0, { executor: 'someone' })])
    expect(validateResultNotice(relay, notice(bad))).toBe(Reject)
    expect(() => decodeResultNotice(encodeMessage(bad))).toThrow(
      'result notice: results[0].executor: not a peer id',
    )
  })

  it('rejects a batch when any one result is malformed', () => {
    const good = [makeNoticeEntry(0), makeNoticeEntry(1)]
    for (const bad of [
      { epoch: -1 },
      { epoch: 0.5 },
      { status: 'ok' },
      { taskId: 'abc' },
      { taskId: STRANGER },
    ] as const) {
      const msg = notice(makeNotice([...good, makeNoticeEntry(2, bad as never)]))
      expect(validateResultNotice(relay, msg)).toBe(Reject)
    }
  })

  it('rejects junk and unsigned notices, and decode names the problem', () => {
    expect(validateResultNotice(relay, signedMessage(RESULTS_TOPIC, new Uint8Array([0xff])))).toBe(Reject)
    expect(validateResultNotice(relay, notice(null))).toBe(Reject)
    const unsigned: Message = { type: 'unsigned', topic: RESULTS_TOPIC, data: encodeMessage(makeNotice()) }
    expect(validateResultNotice(relay, unsigned)).toBe(Reject)
    const negative = makeNotice([makeNoticeEntry(0, { epoch: -1 })])
    expect(() => decodeResultNotice(encodeMessage(negative))).toThrow(InvalidMessageError)
    expect(() => decodeResultNotice(encodeMessage(negative))).toThrow(
      'result notice: results[0].epoch: Too small',
    )
  })
})
