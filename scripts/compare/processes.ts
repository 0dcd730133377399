import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`; 100 on Linux when unknown). */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/**
 * CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat;
 * NaN when the process is gone.
 */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`)
}

/**
 * How a process's main thread (its event loop) has used the CPU so far, from the scheduler's
 * `/proc/<pid>/task/<pid>/schedstat` (nanoseconds): seconds it ran, and seconds it waited on a run
 * queue, runnable while other threads had the cores. NaNs when the process is gone.
 */
export function mainThreadSched(pid: number): { ranS: number; waitedS: number } {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8')
  } catch {
    return { ranS: Number.NaN, waitedS: Number.NaN }
  }
  const [ran, waited] = text.trim().split(' ').map(Number)
  return { ranS: ran / 1e9, waitedS: waited / 1e9 }
}

/**
 * Seconds each kind of thread of a process has run so far, by thread name (`/proc/<pid>/task/*`:
 * `comm` and `schedstat`), numbered names folded into one (`V8 DefaultWorker`, `libuv-worker`).
 * Empty when the process is gone.
 */
export function threadKinds(pid: number): Map<string, number> {
  const kinds = new Map<string, number>()
  let tids: string[]
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return kinds
  }
  for (const tid of tids) {
    try {
      const name = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
      const ran = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e9
      const kind = name === 'node' ? `t${Number(tid) - pid}` : name.replace(/[0-9]+$/, '').trim()
      kinds.set(kind, (kinds.get(kind) ?? 0) + ran)
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return kinds
}

function statCpuSeconds(path: string): number {
  let stat: string
  try {
    stat = readFileSync(path, 'utf8')
  } catch {
    return Number.NaN
  }
  // the command name (field 2) may hold spaces: fields count from the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS // utime, stime (fields 14, 15)
}

/** CPU seconds of this process so far (user + system). */
export function ownCpuSeconds(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/** A child process of the benchmark, with its output lines. */
export interface Child {
  name: string
  proc: ChildProcess
  pid: number
  /** Stdout lines so far. */
  readonly lineCount: number
  /**
   * Resolves with the first stdout line from line `from` on (0: the first) that `match` accepts;
   * rejects if the process exits first.
   */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number, from?: number): Promise<string>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>
}

const live = new Set<Child>()
process.on('exit', () => {
  for (const c of live) c.proc.kill('SIGKILL')
})

/**
 * Starts a process whose lines are kept for {@link Child.waitForLine}; stderr lines go to `log`
 * with the child's name. Every child still alive when this process exits is killed.
 */
export function startChild(
  name: string,
  command: string,
  args: string[],
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Child {
  const proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env })
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${command}`)
  const lines: string[] = []
  const waiters = new Set<() => void>()
  let exited: string | undefined
  createInterface({ input: proc.stdout }).on('line', (line) => {
    lines.push(line)
    for (const w of waiters) w()
  })
  createInterface({ input: proc.stderr }).on('line', (line) => log(`[${name}] ${line}`))
  const done = new Promise<void>((resolve) => {
    proc.on('exit', (code, signal) => {
      exited = `${name} exited (${signal ?? `code ${code}`})`
      live.delete(child)
      for (const w of waiters) w()
      resolve()
    })
  })
  const child: Child = {
    name,
    proc,
    pid: proc.pid,
    get lineCount() {
      return lines.length
    },
    waitForLine(match, timeoutMs = 60_000, from = 0) {
      return new Promise((resolve, reject) => {
        let seen = from
        const timer = setTimeout(
          () => finish(new Error(`${name}: no expected line within ${timeoutMs} ms`)),
          timeoutMs,
        )
        const finish = (err?: Error, line?: string) => {
          clearTimeout(timer)
          waiters.delete(check)
          if (err !== undefined) reject(err)
          else resolve(line as string)
        }
        const check = () => {
          for (; seen < lines.length; seen++) if (match(lines[seen])) return finish(undefined, lines[seen])
          if (exited !== undefined)
            finish(new Error(`${exited} before the expected line; last: ${lines.at(-1) ?? '(none)'}`))
        }
        waiters.add(check)
        check()
      })
    },
    async stop(graceMs = 20_000) {
      if (exited !== undefined) return
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
      await done
      clearTimeout(timer)
    },
  }
  live.add(child)
  return child
}
