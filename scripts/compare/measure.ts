import { cpuSeconds, ownCpuSeconds } from './processes.ts'

export { percentiles, sleep } from '../bench/common.ts'

/** CPU seconds per named process now, and this benchmark process's own. */
export interface CpuSample {
  processes: Record<string, number>
  bench: number
}

export function sampleCpu(pids: Record<string, number>): CpuSample {
  return {
    processes: Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)])),
    bench: ownCpuSeconds(),
  }
}

/** CPU seconds spent between two samples: per process, their sum, and the benchmark's own. */
export interface CpuSpent {
  processes: Record<string, number>
  total: number
  bench: number
}

export function cpuSpent(before: CpuSample, after: CpuSample): CpuSpent {
  const processes = Object.fromEntries(
    Object.entries(after.processes).map(([name, s]) => [name, s - (before.processes[name] ?? Number.NaN)]),
  )
  return {
    processes,
    total: Object.values(processes).reduce((a, b) => a + b, 0),
    bench: after.bench - before.bench,
  }
}

/**
 * Reads a count every `everyMs` until it reaches `target`; after `timeoutMs` throws, saying
 * `what` and how far the count got.
 */
export async function pollCount(
  read: () => Promise<number>,
  target: number,
  everyMs: number,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (let got = await read(); got < target; got = await read()) {
    if (Date.now() > deadline) throw new Error(`${what}: ${got} of ${target} after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** Runs `work` on every item, at most `limit` at once; results in item order. */
export async function mapLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await work(items[i])
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  return out
}
