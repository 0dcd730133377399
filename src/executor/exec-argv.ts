import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'

/** Files that need a TypeScript loader in the worker. */
const TS_FILE = /\.[mc]?ts$/
/** Preload options (whose value names a module) of the parent's own tooling: tsx, vite, vitest. */
const PRELOAD_OPTIONS = new Set(['--require', '-r', '--import', '--loader', '--experimental-loader'])
const TOOLING_MODULE = /[\\/](tsx|vite|vitest|vite-node)[\\/]|^(tsx|vitest)(\/|$)/
/**
 * Per-process options that `new Worker` refuses or that make no sense in a thread. A test starts a
 * worker with each option Node takes (`process.allowedNodeEnvironmentFlags`) and finds every one
 * it refuses here.
 */
const PROCESS_ONLY =
  /^--(no-)?(inspect|debug|watch|title|max-old-space-size|max-semi-space-size|stack-size|cpu-prof|heap-prof|prof|test|zero-fill-buffers|disable-proto|force-fips|enable-fips|use-bundled-ca|use-openssl-ca|openssl-|trace-sigint|node-memory-debug|node-snapshot|report-|debug-arraybuffer-allocations|trace-events-enabled|trace-event-|v8-pool-size|use-largepages|secure-heap|icu-data-dir|tls-cipher-list|snapshot-blob|build-snapshot|disable-wasm-trap-handler|experimental-shadow-realm)/
/**
 * V8's own options that Node also takes in `NODE_OPTIONS`. A worker refuses every V8 option (they
 * are process-wide: the thread has them already), these as well as those Node does not know.
 */
const V8_OPTIONS =
  /^--(no-)?(abort-on-uncaught-exception|expose-gc|disallow-code-generation-from-strings|enable-etw-stack-walking|huge-max-old-generation-size|interpreted-frames-native-stack|jitless|perf-basic-prof|perf-prof|stack-trace-limit)/

/** True for an option a worker thread refuses: per-process, or V8's (Node does not know it). */
function refusedByWorker(option: string): boolean {
  if (PROCESS_ONLY.test(option) || V8_OPTIONS.test(option)) return true
  return option.startsWith('--') && !process.allowedNodeEnvironmentFlags.has(option)
}

let tsxPreload: string | undefined

/**
 * Absolute `file:` URL of one of tsx's register APIs (`tsx/esm/api` or `tsx/cjs/api`, the ES
 * module build), resolved from this package with `import.meta.resolve`, or with `require.resolve`
 * where a test runner's module system lacks it.
 */
export function tsxApiUrl(api: 'esm' | 'cjs'): string {
  const specifier = `tsx/${api}/api`
  let url: string | undefined
  try {
    url = import.meta.resolve?.(specifier)
  } catch {
    url = undefined
  }
  if (url?.startsWith('file:')) return url
  // The require condition points at index.cjs; its ES module twin sits beside it.
  const cjs = createRequire(import.meta.url).resolve(specifier)
  return pathToFileURL(cjs.replace(/\.cjs$/, '.mjs')).href
}

/**
 * A `data:` module for `--import` that registers tsx's ESM and CommonJS hooks in the thread it
 * runs in, as the tsx CLI does on the main thread.
 *
 * `--import tsx/esm` is not enough: on Node < 22.22.3 tsx/esm registers itself only on the main
 * thread, so a worker started with it still fails with `Unknown file extension ".ts"`. Calling
 * `register()` from the APIs works in worker threads. The CommonJS hooks matter too: without them
 * an operator's ES module named `.js` outside a `"type": "module"` package fails to load under
 * tsx's ESM hooks (ERR_REQUIRE_CYCLE_MODULE), although the main thread loaded it.
 */
export function tsxWorkerPreload(): string {
  if (tsxPreload === undefined) {
    const source = [
      `import{register as esm}from${JSON.stringify(tsxApiUrl('esm'))}`,
      `import{register as cjs}from${JSON.stringify(tsxApiUrl('cjs'))}`,
      'cjs()',
      'esm()',
    ].join(';')
    tsxPreload = `data:text/javascript,${encodeURIComponent(source)}`
  }
  return tsxPreload
}

/**
 * The `execArgv` for pool workers. Starts from the parent's (`base`), drops what a worker
 * refuses (`--inspect`, `--title`, heap sizes: use `resourceLimits`…; V8's options such as
 * `--expose-gc` or `--min-semi-space-size`, which reach every thread anyway) and the parent's own
 * tsx/vitest preloads, then adds `--import <tsx register preload>` (see {@link tsxWorkerPreload}) when the worker entry or a handler module is
 * TypeScript, so workers load `.ts` sources whether the parent runs under tsx, vitest or plain node.
 */
export function workerExecArgv(
  workerFile: string,
  modules: readonly string[],
  base = process.execArgv,
): string[] {
  const argv: string[] = []
  for (let i = 0; i < base.length; i++) {
    const arg = base[i]
    const [option, inlineValue] = splitOption(arg)
    if (PRELOAD_OPTIONS.has(option)) {
      const value = inlineValue ?? base[++i]
      if (value !== undefined && !TOOLING_MODULE.test(safeDecode(value))) argv.push(option, value)
    } else if (refusedByWorker(option)) {
      // `execArgv` holds options and their values only: a word after an option is its value
      if (inlineValue === undefined && base[i + 1] !== undefined && !base[i + 1].startsWith('-')) i++
    } else {
      argv.push(arg)
    }
  }
  if (TS_FILE.test(workerFile) || modules.some((m) => TS_FILE.test(m))) {
    argv.push('--import', tsxWorkerPreload())
  }
  return argv
}

function splitOption(arg: string): [string, string | undefined] {
  const eq = arg.indexOf('=')
  return eq === -1 ? [arg, undefined] : [arg.slice(0, eq), arg.slice(eq + 1)]
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}
