import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeMessage } from '../../src/protocol/codec.ts'
import { MAX_FRAME_BYTES } from '../../src/protocol/constants.ts'
import { InvalidRecordError } from '../../src/protocol/errors.ts'
import { stealFrameSchema, stealReplySchema } from '../../src/protocol/messages/messages.ts'
import { storeRequestSchema } from '../../src/protocol/messages/replicate-messages.ts'
import {
  openResultRecordSync,
  recordFromBase64,
  recordToBase64,
  resultKey,
  signResultRecord,
} from '../../src/protocol/records/result-record.ts'
import { fromBase64, isCanonicalBase64, toBase64 } from '../../src/util/base64.ts'
import {
  bytesOf,
  executorKey,
  LEASE_PROOF,
  makeComplete,
  makeCompletion,
  makeRecord,
  makeTask,
} from './fixtures.ts'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/**
 * The same bytes in a non-canonical form: a spare bit of the last character before the padding
 * set. Lenient decoders read it as `text`.
 */
function sloppy(text: string): string {
  const at = text.length - (text.endsWith('==') ? 3 : 2)
  const changed = ALPHABET[ALPHABET.indexOf(text[at]) | 1]
  return `${text.slice(0, at)}${changed}${text.slice(at + 1)}`
}

describe('canonical base64', () => {
  it.each([
    ['', true],
    ['QQ==', true],
    ['QR==', false],
    ['QUI=', true],
    ['QUJ=', false],
    ['QUJD', true],
    ['QQ', false],
    ['QQ=', false],
    ['Q Q==', false],
    ['QQ==\n', false],
    ['QUJD-_==', false],
  ])('%j is canonical: %s', (text, canonical) => {
    expect(isCanonicalBase64(text)).toBe(canonical)
  })

  it('is exactly the text toBase64 gives for the bytes it decodes to', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const text = toBase64(bytes)
        expect(isCanonicalBase64(text)).toBe(true)
        if (text.includes('=')) {
          expect(fromBase64(sloppy(text))).toEqual(bytes)
          expect(isCanonicalBase64(sloppy(text))).toBe(false)
        }
      }),
    )
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9+/]{0,12}={0,2}$/), (text) => {
        expect(isCanonicalBase64(text)).toBe(toBase64(fromBase64(text)) === text)
      }),
    )
  })
})

describe('canonical base64, long texts (checked by a round trip through the codec)', () => {
  /** The definition: the standard alphabet padded to groups of four, no spare bit set. */
  const definition = (text: string) => {
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return false
    const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
    return pad === 0 || (ALPHABET.indexOf(text[text.length - pad - 1]) & (pad === 2 ? 15 : 3)) === 0
  }

  it('agrees with the definition on record-sized texts, canonical and bent', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 193, maxLength: 1200 }),
        fc.nat(),
        fc.constantFrom(' ', '\n', '-', '_', '=', '*', 'é'),
        (bytes, at, odd) => {
          const text = toBase64(bytes)
          expect(text.length).toBeGreaterThan(256)
          const bent = [
            text,
            text.includes('=') ? sloppy(text) : `${text}A`,
            text.replace(/=+$/, ''),
            `${text.slice(0, at % text.length)}${odd}${text.slice(at % text.length)}`,
            `${text.slice(0, at % text.length)}${text.slice((at % text.length) + 1)}`,
            `${text}${text.slice(0, 4)}`,
          ]
          for (const t of bent) expect(isCanonicalBase64(t)).toBe(definition(t))
          expect(isCanonicalBase64(text)).toBe(true)
        },
      ),
      { numRuns: 300 },
    )
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9+/=_\- ]{257,300}$/), (text) => {
        expect(isCanonicalBase64(text)).toBe(definition(text))
      }),
      { numRuns: 300 },
    )
  })
})

describe('only canonical base64 on the wire', () => {
  it('a signed record whose signature is written non-canonically is refused, though it decodes the same', async () => {
    const record = makeRecord()
    const value = await signResultRecord(record, executorKey)
    const signed = JSON.parse(new TextDecoder().decode(value))
    expect(openResultRecordSync(value, resultKey(record.taskId)).taskId).toBe(record.taskId)
    const other = bytesOf({ ...signed, signature: sloppy(signed.signature) })
    expect(() => openResultRecordSync(other, resultKey(record.taskId))).toThrow(InvalidRecordError)
    expect(() => openResultRecordSync(other, resultKey(record.taskId))).toThrow(
      /signature: must be canonical/,
    )
  })

  it('a record whose grant is written non-canonically is neither signed nor accepted', async () => {
    const record = makeRecord()
    const bentGrant = sloppy(record.grant ?? '')
    await expect(signResultRecord({ ...record, grant: bentGrant }, executorKey)).rejects.toThrow(
      /grant: must be canonical/,
    )
    const signed = JSON.parse(new TextDecoder().decode(await signResultRecord(record, executorKey)))
    const bent = bytesOf({ ...signed, record: { ...record, grant: bentGrant } })
    expect(() => openResultRecordSync(bent, resultKey(record.taskId))).toThrow(/grant: must be canonical/)
  })

  it('record values, completions, store frames and grant proofs in non-canonical base64 are refused', async () => {
    const value = await signResultRecord(makeRecord(), executorKey)
    const text = recordToBase64(value)
    const bent = sloppy(text)
    expect(recordFromBase64(text)).toEqual(value)
    expect(() => recordFromBase64(bent)).toThrow(InvalidRecordError)
    const frame = (v: unknown) => decodeMessage(stealFrameSchema, bytesOf(v), MAX_FRAME_BYTES, 'steal frame')
    expect(frame(makeComplete([makeCompletion(0, { record: text })])).type).toBe('complete')
    expect(() => frame(makeComplete([makeCompletion(0, { record: bent })]))).toThrow(
      /completions\[0\]\.record: must be canonical/,
    )
    const store = (records: unknown[]) =>
      decodeMessage(
        storeRequestSchema,
        bytesOf({ type: 'store', requestId: 'r', records }),
        MAX_FRAME_BYTES,
        'store frame',
      )
    // a store frame carries the values as JSON: their signatures and proofs are base64
    const envelope = JSON.parse(new TextDecoder().decode(value))
    expect(store([envelope]).records).toEqual([envelope])
    expect(() => store([{ ...envelope, signature: sloppy(envelope.signature) }])).toThrow(
      /records\[0\]\.signature: must be canonical/,
    )
    const task = makeTask()
    const grant = (proof: string) =>
      decodeMessage(
        stealReplySchema,
        bytesOf({
          type: 'grant',
          requestId: 'r',
          tasks: [task],
          leases: [{ taskId: task.id, epoch: 1, expiresAt: 10, proof }],
          ttlMs: 10,
        }),
        MAX_FRAME_BYTES,
        'grant',
      )
    expect(grant(LEASE_PROOF).type).toBe('grant')
    expect(() => grant(sloppy(LEASE_PROOF))).toThrow(/leases\[0\]\.proof: must be canonical/)
  })
})

describe('isCanonicalBase64 by shape', () => {
  const PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
  it('agrees with the padded-base64 pattern on short texts of the alphabet, padding and strays', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9+/=\-_ .é]{0,40}$/), (text) => {
        if (!PATTERN.test(text)) expect(isCanonicalBase64(text)).toBe(false)
        else expect(isCanonicalBase64(text)).toBe(Buffer.from(text, 'base64').toString('base64') === text)
      }),
      { numRuns: 3000 },
    )
    for (const text of ['', 'QQ==', 'QR==', 'QUI=', 'QUJD', '====', 'Q===', 'QQ=A', 'QUJ', 'QUJD\n'])
      expect([text, isCanonicalBase64(text)]).toEqual([
        text,
        PATTERN.test(text) && Buffer.from(text, 'base64').toString('base64') === text,
      ])
  })
})
