import { MAX_ERROR_CHARS } from '../../protocol/constants.ts'
import { InvalidRecordError } from '../../protocol/errors.ts'
import type { ResultRecord } from '../../protocol/records/result-record.ts'
import type { AttemptRecord } from '../../task/task.ts'
import { cutText } from '../../util/cut-text.ts'

/** An attempt's error is cut to this many characters in a salvaged record. */
const SALVAGED_ATTEMPT_ERROR_CHARS = 1024

/** `value` with its keys in sorted order (the order records are signed in: see `runRecord`). */
function sortedKeys<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1))) as T
}

/**
 * Records to try, in turn, in place of `record` when it cannot be signed (`reason`: it breaks a
 * record bound — its attempts' errors and stacks together over `MAX_RECORD_BYTES`, say): first the
 * same outcome with the attempts' stacks dropped and their errors cut, then a failure saying why.
 * A task whose record cannot be made ends failed, with a record, rather than never.
 */
export function salvagedRecords(record: ResultRecord, reason: string): ResultRecord[] {
  const attempts = record.attempts.map(
    ({ stack: _stack, ...a }): AttemptRecord =>
      sortedKeys(a.error === undefined ? a : { ...a, error: cutText(a.error, SALVAGED_ATTEMPT_ERROR_CHARS) }),
  )
  const lean = sortedKeys({ ...record, attempts })
  const { output: _output, ...rest } = lean
  const failed = sortedKeys({
    ...rest,
    status: 'failed' as const,
    error: cutText(`the result record could not be made: ${reason}`, MAX_ERROR_CHARS),
    attempts: attempts.slice(-10),
  })
  return [lean, failed]
}

/**
 * Publishes `record` with `publish`; when it is refused as a record (`InvalidRecordError`), the
 * {@link salvagedRecords} in turn. Resolves with the record published.
 * @throws the first refusal when no salvaged record is taken either; any other error at once.
 */
export async function publishSalvaging(
  record: ResultRecord,
  publish: (record: ResultRecord) => Promise<unknown>,
): Promise<ResultRecord> {
  try {
    await publish(record)
    return record
  } catch (err) {
    if (!(err instanceof InvalidRecordError)) throw err
    for (const fallback of salvagedRecords(record, err.message)) {
      try {
        await publish(fallback)
        return fallback
      } catch (again) {
        if (!(again instanceof InvalidRecordError)) throw again
      }
    }
    throw err
  }
}
