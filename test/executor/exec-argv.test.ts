import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { tsxApiUrl, tsxWorkerPreload, workerExecArgv } from '../../src/executor/exec-argv.ts'

describe('workerExecArgv', () => {
  it('keeps ordinary options, drops tsx/vitest preloads and per-process options', () => {
    const parent = [
      '--require',
      '/app/node_modules/tsx/dist/preflight.cjs',
      '--import',
      'file:///app/node_modules/tsx/dist/loader.mjs',
      '--enable-source-maps',
      '--conditions=development',
      '--inspect=9229',
      '--title',
      'daemon',
      '--max-old-space-size=4096',
      '--import',
      './otel.js',
    ]
    expect(workerExecArgv('/app/worker.js', [], parent)).toEqual([
      '--enable-source-maps',
      '--conditions=development',
      '--import',
      './otel.js',
    ])
  })

  it('drops V8 options, which a worker refuses, and a real worker starts with what is left', async () => {
    const parent = [
      '--min-semi-space-size=16',
      '--expose-gc',
      '--single-threaded-gc',
      '--stack-trace-limit=50',
      '--perf-basic-prof',
      '--enable-source-maps',
      '--conditions=development',
      '--no-warnings',
    ]
    const argv = workerExecArgv('/app/worker.js', [], parent)
    expect(argv).toEqual(['--enable-source-maps', '--conditions=development', '--no-warnings'])
    // per-process options go too, with a value given as the next word
    const perProcess = ['--zero-fill-buffers', '--trace-sigint', '--report-dir', '/tmp/reports']
    expect(workerExecArgv('/app/worker.js', [], [...perProcess, '--conditions', 'development'])).toEqual([
      '--conditions',
      'development',
    ])
    for (const option of perProcess.slice(0, 3))
      expect(() => new Worker('0', { eval: true, execArgv: [option] })).toThrow(/invalid execArgv/)
    // each dropped option alone makes new Worker throw ERR_WORKER_INVALID_EXEC_ARGV
    for (const option of parent.slice(0, 5))
      expect(() => new Worker('0', { eval: true, execArgv: [option] })).toThrow(/invalid execArgv/)
    const worker = new Worker('0', { eval: true, execArgv: argv })
    expect(await new Promise((resolve) => worker.once('exit', resolve))).toBe(0)
  })

  it('drops every option of this Node that a worker refuses for being per-process', async () => {
    /** Why `new Worker` refuses `form` alone: undefined when it starts. */
    const refusal = async (form: string): Promise<string | undefined> => {
      try {
        await new Worker('0', { eval: true, execArgv: [form] }).terminate()
        return undefined
      } catch (err) {
        expect((err as { code?: string }).code).toBe('ERR_WORKER_INVALID_EXEC_ARGV')
        return (err as Error).message
      }
    }
    const missed: string[] = []
    for (const flag of process.allowedNodeEnvironmentFlags) {
      if (!flag.startsWith('--')) continue
      const forms = [flag, `${flag}=1`, `${flag}=x`]
      const reasons = []
      for (const form of forms) {
        const reason = await refusal(form)
        if (reason === undefined) break
        reasons.push(reason)
      }
      // refused in every form, and not for a value it lacks or a flag it needs: per-process
      const perProcess = reasons.length === forms.length && !reasons.some((r) => / requires /.test(r))
      if (perProcess && workerExecArgv('/app/worker.js', [], [`${flag}=1`]).length > 0) missed.push(flag)
    }
    expect(missed).toEqual([])
  }, 60_000)

  it('adds the tsx preload for a TypeScript worker entry or handler module only', () => {
    expect(workerExecArgv('/app/worker.ts', [], [])).toEqual(['--import', tsxWorkerPreload()])
    expect(workerExecArgv('/app/worker.js', ['file:///ops/handlers.ts'], [])).toEqual([
      '--import',
      tsxWorkerPreload(),
    ])
    expect(workerExecArgv('/app/worker.js', ['file:///ops/handlers.mjs'], [])).toEqual([])
  })

  it('does not stack a second tsx preload when the parent already had one', () => {
    const once = workerExecArgv('/app/worker.ts', [], [])
    expect(workerExecArgv('/app/worker.ts', [], once)).toEqual(once)
  })

  it('resolves tsx’s register APIs to existing ES module files and registers both', () => {
    for (const api of ['esm', 'cjs'] as const) {
      const url = tsxApiUrl(api)
      expect(url).toMatch(new RegExp(`^file:.*/${api}/api/index\\.mjs$`))
      expect(existsSync(fileURLToPath(url))).toBe(true)
      expect(decodeURIComponent(tsxWorkerPreload())).toContain(`from${JSON.stringify(url)}`)
    }
    expect(decodeURIComponent(tsxWorkerPreload())).toMatch(/cjs\(\);esm\(\)$/)
  })
})
