import { LocalQueue } from '../../src/node/run/local-queue.ts'
import { DurationEstimator } from '../../src/policy/capacity.ts'
import { DEFAULT_AGING } from '../../src/policy/priority.ts'

/**
 * A node's queue for the tests of the parts around it: default aging, a fresh estimator, nothing
 * running. `canRunHere` says whether this node could run a task itself (an owner that cannot
 * counts its own wait as unbounded and grants whatever a thief asks).
 */
export function plainQueue(canRunHere = true): LocalQueue {
  return new LocalQueue({
    policy: DEFAULT_AGING,
    estimator: new DurationEstimator(),
    canRunHere: () => canRunHere,
    runningWorkMs: () => 0,
  })
}
