import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeMessage } from '../../src/protocol/codec.ts'
import { InvalidRecordError } from '../../src/protocol/errors.ts'
import { openResultRecord, resultKey, signResultRecord } from '../../src/protocol/records/result-record.ts'
import { resultSelector } from '../../src/protocol/records/result-selector.ts'
import { canonicalJson } from '../../src/task/task-id.ts'
import { executorKey, makeRecord } from './fixtures.ts'
import { junkBytes, mutations, RUNS } from './property-helpers.ts'

describe('result records under arbitrary input', () => {
  const key = resultKey(makeRecord().taskId)

  it('junk values are refused with InvalidRecordError only, and always lose in the selector', async () => {
    const good = await signResultRecord(makeRecord(), executorKey)
    await fc.assert(
      fc.asyncProperty(fc.array(junkBytes, { maxLength: 4 }), fc.nat(), async (junk, at) => {
        for (const value of junk) {
          await expect(openResultRecord(value, key)).rejects.toBeInstanceOf(InvalidRecordError)
        }
        const values = [...junk]
        const index = at % (values.length + 1)
        values.splice(index, 0, good)
        expect(resultSelector(key, values)).toBe(index)
      }),
      { numRuns: RUNS },
    )
  })

  it('any change to a signed record is refused unless it changes nothing', async () => {
    const value = await signResultRecord(makeRecord(), executorKey)
    const signed = JSON.parse(new TextDecoder().decode(value))
    await fc.assert(
      fc.asyncProperty(mutations(signed), async (changed) => {
        const bytes = encodeMessage(changed)
        const opened = await openResultRecord(bytes, key).then(
          (record) => record,
          (err: unknown) => {
            expect(err).toBeInstanceOf(InvalidRecordError)
            return undefined
          },
        )
        if (opened !== undefined) expect(canonicalJson(opened)).toBe(canonicalJson(signed.record))
      }),
      { numRuns: 100 },
    )
  })

  it('the selector picks the same value for any order of the same set', async () => {
    const pool = await Promise.all(
      [
        makeRecord({ epoch: 1 }),
        makeRecord({ epoch: 4, finishedAt: 90 }),
        makeRecord({ epoch: 4, finishedAt: 45 }),
        makeRecord({ epoch: 4, status: 'failed', output: undefined, error: 'no', finishedAt: 41 }),
        makeRecord({ epoch: 4, finishedAt: 45, output: 'different' }),
      ].map((r) => signResultRecord(r, executorKey)),
    )
    const values = fc.array(fc.oneof(fc.constantFrom(...pool), junkBytes), { minLength: 1, maxLength: 6 })
    fc.assert(
      fc.property(
        values.chain((v) => fc.tuple(fc.constant(v), fc.shuffledSubarray(v, { minLength: v.length }))),
        ([a, b]) => {
          const pickA = a[resultSelector(key, a)]
          const pickB = b[resultSelector(key, b)]
          expect(Buffer.compare(Buffer.from(pickA), Buffer.from(pickB))).toBe(0)
        },
      ),
      { numRuns: RUNS },
    )
  })
})
