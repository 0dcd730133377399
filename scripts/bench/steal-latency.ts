import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import type { ResultRecord } from '../../src/protocol/records/result-record.ts'
import { seededRandom } from '../../src/simulation/random.ts'
import {
  atMost,
  type BenchContext,
  collectResults,
  deadline,
  exactly,
  type Figure,
  figuresOf,
  percentiles,
  type Scenario,
  sleep,
  waitResults,
} from './common.ts'

/** Longest one latency sample may take before the scenario fails with a diagnosis. */
const SAMPLE_TIMEOUT_MS = 5_000

/**
 * Idle → first steal: the thief T (1 slot) runs one task of its own (sleep 100–200 ms) while the
 * victim V (1 slot) holds a queue of many 10 ms sleeps. The gap is T's first stolen task's
 * `startedAt` minus its own task's `finishedAt`, both from result records (1 ms resolution).
 */
export const idleToFirstSteal: Scenario = {
  name: 'idle→first steal',
  timeoutMs: 120_000,
  async run(ctx: BenchContext): Promise<Figure[]> {
    const f = figuresOf(this.name)
    const rounds = ctx.quick ? 20 : 30
    const queueLength = 60
    const random = seededRandom(7)
    const [thief, victim] = await ctx.mesh({ nodes: 2, slots: [1, 1] })
    const gaps: number[] = []
    let roundsWithoutSteal = 0
    let ownStolen = 0
    let stolenTotal = 0
    for (let round = 0; round < rounds; round++) {
      const signal = deadline(30_000, ctx.signal)
      const ownMs = 100 + Math.round(100 * random())
      const own = await thief.submit({ type: 'sleep', input: { ms: ownMs } })
      const queue = await victim.submitMany(
        Array.from({ length: queueLength }, () => ({ type: 'sleep', input: { ms: 10 } })),
      )
      const ownRecord = await thief.waitResult(own.id, signal)
      const records = await waitResults(
        victim,
        queue.map((h) => h.id),
        signal,
      )
      if (ownRecord.executor !== thief.peerId) ownStolen++
      const stolen = records.filter((r) => r.executor === thief.peerId)
      stolenTotal += stolen.length
      if (stolen.length === 0) {
        roundsWithoutSteal++
        continue
      }
      gaps.push(Math.min(...stolen.map((r) => r.startedAt)) - ownRecord.finishedAt)
      await sleep(50) // let both nodes' beacons settle on "empty" before the next round
    }
    const { p50, p99 } = percentiles(gaps)
    return [
      f('idle→first steal p50', p50, 'ms', {
        target: atMost(20),
        note: `${gaps.length} rounds; 1 ms resolution (record timestamps); T prefetches while busy`,
      }),
      f('idle→first steal p99', p99, 'ms', {
        note: `min ${Math.min(...gaps)} ms, max ${Math.max(...gaps)} ms`,
      }),
      f('rounds without a steal', roundsWithoutSteal, 'rounds', {
        target: exactly(0),
        note: `${stolenTotal} of ${rounds * queueLength} queued tasks stolen in ${rounds} rounds`,
      }),
      f("thief's own task run elsewhere", ownStolen, 'rounds', { note: 'should be 0: it starts at once' }),
    ]
  },
}

/** Submits `count` no-ops one after another at `node`, returning each submit→result time (ms). */
async function sequential(
  what: string,
  node: TaskmeshNode,
  count: number,
  parent: AbortSignal,
  check: (executor: string) => void,
  pauseMs = 0,
): Promise<number[]> {
  const times: number[] = []
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    const handle = await node.submit({ type: 'noop' })
    let record: ResultRecord
    try {
      record = await handle.result(deadline(SAMPLE_TIMEOUT_MS, parent))
    } catch (err) {
      if (parent.aborted) throw err
      const s = node.status()
      throw new Error(
        `${what} no-op #${i} (${handle.id}) had no result at its submitter after ${SAMPLE_TIMEOUT_MS} ms; ` +
          `submitter running ${s.running}, queued ${s.queued}, leased out ${s.leasedOut}, counters ${JSON.stringify(s.counters)}`,
      )
    }
    times.push(performance.now() - t0)
    check(record.executor)
    if (pauseMs > 0) await sleep(pauseMs)
  }
  return times
}

/** Fills every slot of `node` with a long sleep (cancelled when the node stops). */
async function block(node: TaskmeshNode): Promise<void> {
  const slots = node.status().slots
  await node.submitMany(Array.from({ length: slots }, () => ({ type: 'sleep', input: { ms: 120_000 } })))
  await sleep(50)
  const st = node.status()
  if (st.running !== st.slots) throw new Error(`node runs ${st.running} of ${st.slots} blockers`)
}

/** No-ops submitted behind busy slots at a node that has run no-ops itself. */
const STRAND_PROBES = 3
const STRAND_WAIT_MS = 5_000

/**
 * Submit → result at the submitter (`handle.result()`) of sequential no-ops, on 3 nodes: run
 * locally at A; one steal hop away at B, whose slots are held by long sleeps, so idle A or C steals
 * each no-op. Then A's slots are blocked too and a few no-ops queued there: A has seen no-ops run
 * in 0 ms, which is how it is told whether they are worth stealing.
 */
export const latency: Scenario = {
  name: 'latency',
  timeoutMs: 120_000,
  async run(ctx: BenchContext): Promise<Figure[]> {
    const f = figuresOf(this.name)
    const samples = ctx.quick ? 100 : 400
    const warmup = 50
    const [a, b] = await ctx.mesh({ nodes: 3, slots: 2 })
    const signal = ctx.signal

    let misplaced = 0
    await sequential('local warm-up', a, warmup, signal, () => undefined)
    const local = await sequential('local', a, samples, signal, (e) => {
      if (e !== a.peerId) misplaced++
    })

    await block(b)
    const hopCheck = (e: string) => {
      if (e === b.peerId) misplaced++
    }
    await sequential('steal-hop warm-up', b, warmup, signal, () => undefined)
    const hop = await sequential('steal-hop', b, samples, signal, hopCheck)
    const spaced = await sequential('spaced steal-hop', b, Math.ceil(samples / 4), signal, hopCheck, 50)

    await block(a)
    const probes = await a.submitMany(Array.from({ length: STRAND_PROBES }, () => ({ type: 'noop' })))
    const { missing } = await collectResults(
      a,
      probes.map((p) => p.id),
      deadline(STRAND_WAIT_MS, signal),
    )

    const l = percentiles(local)
    const h = percentiles(hop)
    const s = percentiles(spaced)
    return [
      f('local p50', l.p50, 'ms', {
        target: atMost(2),
        note: `${samples} sequential no-ops after ${warmup} warm-up`,
      }),
      f('local p99', l.p99, 'ms', { target: atMost(9) }),
      f('steal hop p50', h.p50, 'ms', {
        target: atMost(5),
        baseline: { figure: 'local p50', value: l.p50 },
        note: 'back-to-back submissions',
      }),
      f('steal hop p99', h.p99, 'ms', { baseline: { figure: 'local p99', value: l.p99 } }),
      f('steal hop p50, 50 ms apart', s.p50, 'ms', {
        note: `${spaced.length} submissions, 50 ms idle between`,
      }),
      f('steal hop p99, 50 ms apart', s.p99, 'ms'),
      f('no-ops not run where expected', misplaced, 'tasks', {
        target: exactly(0),
        note: 'local ones elsewhere, or hop ones at the blocked owner',
      }),
      f('no-ops stranded behind busy slots', missing.length, 'tasks', {
        target: exactly(0),
        note: `${STRAND_PROBES} no-ops queued at a blocked node that has run no-ops, 2 idle peers; no result within ${STRAND_WAIT_MS / 1000} s`,
      }),
    ]
  },
}
