import { describe, expect, it } from 'vitest'
import { failed, type RunOutcome, succeeded } from '../../../src/executor/outcome.ts'
import { ownerFailureRecord, runRecord } from '../../../src/node/results/result-publisher.ts'
import { type RunEntry, TaskRunner } from '../../../src/node/run/task-runner.ts'
import { canonicalJson } from '../../../src/task/task-id.ts'
import { realTask } from '../owner/ledger-fixture.ts'

const SELF = '12D3KooW9xRAAQNrtZt8fHcjgJLcYxdu5r2Bw8AA2mFW2VdwiScw'

/** Runs `entry` once in a real TaskRunner whose executor answers `outcome`; resolves once it ended. */
function runOnce(entry: RunEntry, outcome: RunOutcome): Promise<RunOutcome> {
  const runner = new TaskRunner({ executor: { run: async () => outcome }, slots: 1, self: SELF, speed: 1 })
  return new Promise((resolve) => {
    runner.onAttemptEnd((_, ended) => resolve(ended))
    runner.start(entry)
  })
}

describe('records as a node builds them', () => {
  it('are written in canonical key order: JSON.stringify gives canonicalJson, for every kind', async () => {
    const kinds: Array<{ outcome: RunOutcome; grant?: string }> = [
      { outcome: succeeded({ a: [2], z: 1 }, Date.now()) }, // an output's own keys stay as its handler wrote them
      { outcome: succeeded(null, Date.now()), grant: `${'A'.repeat(86)}==` },
      { outcome: failed('boom', Date.now()) },
      { outcome: { ...failed('thrown', Date.now()), stack: 'Error: thrown\n    at handler' } },
    ]
    for (const [i, { outcome, grant }] of kinds.entries()) {
      const entry: RunEntry = {
        task: realTask(`key-order-${i}`),
        epoch: 2,
        attempts: [],
        dependencies: {},
        ...(grant === undefined ? {} : { grant }),
      }
      const ended = await runOnce(entry, outcome)
      const record = runRecord(entry, ended, SELF)
      expect(JSON.stringify(record)).toBe(canonicalJson(record))
      // a second run's record holds both attempts
      const again = runRecord(entry, await runOnce(entry, outcome), SELF)
      expect(again.attempts).toHaveLength(2)
      expect(JSON.stringify(again)).toBe(canonicalJson(again))
    }
    const owned: RunEntry = { task: realTask('key-order-owner'), epoch: 1, attempts: [], dependencies: {} }
    const failure = ownerFailureRecord(owned, SELF, 'cancelled by its submitter', 1)
    expect(JSON.stringify(failure)).toBe(canonicalJson(failure))
  })
})
