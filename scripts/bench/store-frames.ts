import { encodeStoreFrame } from '../../src/protocol/messages/replicate-messages.ts'
import { signResultBatch } from '../../src/protocol/records/result-record.ts'
import { EXECUTOR, executorKey, makeRecord, makeTask } from '../../test/protocol/fixtures.ts'

/**
 * A `store` frame as its executor sends it: `count` new no-op records (tasks `first`, `first + 1`…),
 * signed by the fixtures' executor in one batch, as the frame's bytes. For the scripts that time
 * what a kept copy costs (each frame a new batch, as a keeping node sees them).
 */
export function signedStoreFrame(requestId: string, first: number, count: number): Uint8Array {
  const records = Array.from({ length: count }, (_, i) =>
    makeRecord({
      taskId: makeTask(first + i).id,
      output: null,
      owner: EXECUTOR,
      epoch: 1,
      attempts: [{ executor: EXECUTOR, epoch: 1, startedAt: 30, finishedAt: 40 }],
    }),
  )
  return Buffer.from(encodeStoreFrame(requestId, signResultBatch(records, executorKey)))
}
