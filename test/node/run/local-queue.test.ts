import { describe, expect, it } from 'vitest'
import { LocalQueue, STRANDED_WORK_MS } from '../../../src/node/run/local-queue.ts'
import { MIN_TASK_MS } from '../../../src/node/run/task-runner.ts'
import { DurationEstimator } from '../../../src/policy/capacity.ts'
import { DEFAULT_AGING } from '../../../src/policy/priority.ts'
import type { QueuedTask } from '../../../src/policy/types.ts'
import { parseTaskSpec } from '../../../src/task/spec.ts'
import type { Task } from '../../../src/task/task.ts'
import { seededRandom } from '../../policy/helpers.ts'

const TYPES = ['echo', 'sleep', 'gpu-job']

function randomTask(n: number, random: () => number): Task {
  const spec = parseTaskSpec({
    type: TYPES[Math.floor(random() * TYPES.length)],
    resources: { slots: 1 + Math.floor(random() * 3), labels: random() < 0.2 ? ['gpu'] : [] },
  })
  return { id: `t${n}`, spec, submitter: 's', nonce: `${n}`, owner: 'o', submittedAt: 0 }
}

describe('LocalQueue.queuedWorkMs', () => {
  it('equals the sum over the queued tasks after any mix of enqueues, removals, pops and steals', () => {
    const random = seededRandom(7)
    const estimator = new DurationEstimator({ initial: { echo: 3, sleep: 40 } })
    const canRunHere = (t: QueuedTask) => t.type !== 'gpu-job' && !t.resources.labels.includes('gpu')
    let running = 0
    const queue = new LocalQueue({
      policy: DEFAULT_AGING,
      estimator,
      canRunHere,
      runningWorkMs: () => running,
    })
    const bySum = (stealableOnly: boolean) => {
      let ms = running
      for (const t of queue.values()) {
        if (stealableOnly && !t.stealable) continue
        ms += canRunHere(t)
          ? Math.max(MIN_TASK_MS, estimator.estimate(t.type)) * t.resources.slots
          : STRANDED_WORK_MS
      }
      return ms
    }
    const ids: string[] = []
    for (let n = 0; n < 2_000; n++) {
      const roll = random()
      if (roll < 0.5) {
        const t = randomTask(n, random)
        queue.enqueue(t, random() < 0.7)
        if (random() < 0.1) queue.enqueue(t, true) // a task queued already changes nothing
        ids.push(t.id)
      } else if (roll < 0.65) queue.remove(ids[Math.floor(random() * ids.length)] ?? 'none')
      else if (roll < 0.8) queue.pop(n, (t) => t.type !== TYPES[n % 3])
      else if (roll < 0.9) queue.takeForSteal(n, 1 + Math.floor(random() * 4), () => true)
      else if (roll < 0.95) estimator.observe(TYPES[n % 3], random() * 100)
      else running = Math.floor(random() * 50)
      expect(queue.queuedWorkMs(false)).toBeCloseTo(bySum(false), 6)
      expect(queue.queuedWorkMs(true)).toBeCloseTo(bySum(true), 6)
    }
    expect(queue.size).toBeGreaterThan(0)
  })
})
