import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/**
 * Where a simulation's CPU went, thread by thread. Every simulated node lives in this process, but
 * not all of its CPU is the nodes' own turns: V8's helper threads (parallel scavenges, concurrent
 * marking, background compiles) and libuv's pool run beside the node threads and compete with them
 * for the same cores. Read from Linux's `/proc/self/task/<tid>/schedstat` (time on a CPU, ns);
 * elsewhere nothing is measured.
 */

/** The OS id of the calling thread (Linux: `/proc/thread-self`), undefined where there is no /proc. */
export function osThreadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1))
    return Number.isInteger(tid) && tid > 0 ? tid : undefined
  } catch {
    return undefined
  }
}

/** CPU time each thread of this process has had so far, ms, by OS thread id; empty without /proc. */
export function threadCpuMs(): Map<number, number> {
  const out = new Map<number, number>()
  let tids: string[]
  try {
    tids = readdirSync('/proc/self/task')
  } catch {
    return out
  }
  for (const tid of tids) {
    try {
      const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0])
      if (Number.isFinite(ns)) out.set(Number(tid), ns / 1e6)
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out
}

/** A stretch's CPU by the kind of thread that spent it, ms. */
export interface ThreadCpu {
  /** The threads whose event loops host nodes (with the shared loop: this thread). */
  loopsMs: number
  /** Every other thread: V8's collector and compiler threads, libuv's pool. */
  helpersMs: number
  /** The simulation's own thread, when it hosts no node (it submits, counts results, reports). */
  simulationMs: number
}

/**
 * Splits the CPU between two {@link threadCpuMs} readings by thread kind: `loopTids` are the node
 * threads, `mainTid` the simulation's (counted as a loop when it is one). A thread that started
 * in between counts from zero; one that ended is not seen. Undefined when nothing was read (no
 * /proc) or a node thread's id is unknown.
 */
export function splitThreadCpu(
  before: ReadonlyMap<number, number>,
  after: ReadonlyMap<number, number>,
  loopTids: ReadonlyArray<number | undefined>,
  mainTid: number,
): ThreadCpu | undefined {
  if (after.size === 0 || loopTids.length === 0 || loopTids.some((t) => t === undefined)) return undefined
  const loops = new Set(loopTids)
  const split: ThreadCpu = { loopsMs: 0, helpersMs: 0, simulationMs: 0 }
  for (const [tid, ms] of after) {
    const spent = Math.max(0, ms - (before.get(tid) ?? 0))
    if (loops.has(tid)) split.loopsMs += spent
    else if (tid === mainTid) split.simulationMs += spent
    else split.helpersMs += spent
  }
  return split
}

/** `node loops 2.3 CPU-s, helper threads 0.9 CPU-s (27 %), simulation 0.04 CPU-s`, or `not measured`. */
export function threadCpuLine(t: ThreadCpu | undefined): string {
  if (t === undefined) return 'not measured (no /proc)'
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} CPU-s`
  const total = t.loopsMs + t.helpersMs + t.simulationMs
  const share =
    total > 0 ? ` (${((100 * t.helpersMs) / total).toFixed(0)} %: collector, compiler, libuv pool)` : ''
  return `node loops ${s(t.loopsMs)}, helper threads ${s(t.helpersMs)}${share}, simulation ${s(t.simulationMs)}`
}
