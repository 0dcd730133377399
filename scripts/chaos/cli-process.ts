import { type ChildProcess, spawn } from 'node:child_process'
import { assertFreshBuild, BIN, REPO } from '../dist.ts'

/** `node` arguments that run `taskmesh <args>` as the package ships it (checking the build first). */
function cliArgv(args: string[]): string[] {
  assertFreshBuild()
  return [BIN, ...args]
}

/** The environment children run in: no inherited data dir. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.TASKMESH_DATA_DIR
  return env
}

/** What a finished CLI command printed, and how it exited. */
export interface CliRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** Non-empty stdout lines. */
  lines: string[]
}

/** Runs `taskmesh <args>` to completion (killed after `timeoutMs`), with `env` added to its environment. */
export function runCli(args: string[], timeoutMs = 20_000, env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgv(args), {
      ...{ cwd: REPO, env: { ...childEnv(), ...env }, stdio: 'pipe' as const },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      const lines = stdout.split('\n').filter((l) => l.trim().length > 0)
      resolve({ code, signal, stdout, stderr, lines })
    })
  })
}

/** Children still running; killed if this test process exits without stopping them. */
const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/** A `taskmesh daemon` child process whose stdout is read line by line. */
export class DaemonProcess {
  readonly lines: string[] = []
  stderr = ''
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  private readonly child: ChildProcess
  private readonly watchers = new Set<() => void>()
  private partial = ''
  private done = false

  /** Starts `taskmesh daemon <args>`; `env` adds variables to the child's environment. */
  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, cliArgv(['daemon', ...args]), {
      cwd: REPO,
      env: { ...childEnv(), ...env },
      stdio: 'pipe',
    })
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      const parts = (this.partial + d).split('\n')
      this.partial = parts.pop() ?? ''
      this.lines.push(...parts)
      this.notify()
    })
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d
    })
    running.add(this.child)
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        running.delete(this.child)
        this.done = true
        if (this.partial.length > 0) this.lines.push(this.partial)
        this.notify()
        resolve({ code, signal })
      })
    })
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  /** How many stdout lines have been printed so far (a `from` for {@link waitForLine}). */
  mark(): number {
    return this.lines.length
  }

  /**
   * Resolves with the first stdout line matching `pattern`, already printed or yet to come,
   * looking only at lines from index `from` on.
   */
  waitForLine(pattern: RegExp, opts: { from?: number; timeoutMs?: number } = {}): Promise<string> {
    const { from = 0, timeoutMs = 20_000 } = opts
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.lines.slice(from).find((l) => pattern.test(l))
        if (line !== undefined) {
          finish()
          resolve(line)
        } else if (this.done) {
          finish()
          reject(new Error(`daemon exited before printing ${pattern}; stdout:\n${this.output()}`))
        }
      }
      const timer = setTimeout(() => {
        finish()
        reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; stdout:\n${this.output()}`))
      }, timeoutMs)
      const finish = () => {
        clearTimeout(timer)
        this.watchers.delete(check)
      }
      this.watchers.add(check)
      check()
    })
  }

  /** Waits for `ready` and returns the peer id and first listen address it printed. */
  async ready(timeoutMs = 20_000): Promise<{ peerId: string; addr: string }> {
    await this.waitForLine(/^ready$/, { timeoutMs })
    const peerId = (await this.waitForLine(/^taskmesh node /)).slice('taskmesh node '.length)
    const addr = (await this.waitForLine(/^listening /)).slice('listening '.length)
    return { peerId, addr }
  }

  /** Sends a signal unless the process has exited. */
  signal(sig: NodeJS.Signals): void {
    if (!this.done) this.child.kill(sig)
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`; resolves once it has exited. */
  async kill(graceMs = 5_000): Promise<void> {
    if (this.done) return
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs)
    await this.exited
    clearTimeout(timer)
  }

  output(): string {
    return `${this.lines.join('\n')}\n--- stderr ---\n${this.stderr}`
  }

  private notify(): void {
    for (const w of [...this.watchers]) w()
  }
}
