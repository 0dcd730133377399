import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** How long the child that places a syntax error may take (a failed load only). */
const PLACE_TIMEOUT_MS = 10_000

/**
 * Explains why importing the handler module at `url` failed. Under tsx (the tests and `npm run
 * taskmesh` run the sources with it) an ES module named `.js` outside a `"type": "module"` package
 * is taken for CommonJS and fails with ERR_REQUIRE_CYCLE_MODULE on Node 20; the installed
 * `taskmesh` runs compiled JavaScript with no TypeScript loader, so a `.ts` module fails with
 * ERR_UNKNOWN_FILE_EXTENSION. Say how to fix either instead of echoing Node's riddle, and place a
 * syntax error — in the module or in a module it imports — at its file and line.
 */
export function importFailure(error: unknown, url: string): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown }
  const text = typeof message === 'string' ? message : String(error)
  // the module itself is missing (not one it imports): Node's message names the importer instead
  if (
    code === 'ERR_MODULE_NOT_FOUND' &&
    url.startsWith('file:') &&
    (text.includes(`'${fileURLToPath(url)}'`) || text.includes(`'${url}'`))
  ) {
    return `no such file: ${fileURLToPath(url)}`
  }
  if (code === 'ERR_REQUIRE_CYCLE_MODULE' || code === 'ERR_REQUIRE_ESM') {
    return `${text} (an ES module named .js outside a "type": "module" package: rename it .mjs or add "type": "module" to its package.json)`
  }
  if (code === 'ERR_UNKNOWN_FILE_EXTENSION') {
    return `${text} (taskmesh runs JavaScript: compile the module to .js, or start node with a TypeScript loader, e.g. node --import tsx)`
  }
  if (error instanceof SyntaxError && url.startsWith('file:')) {
    const path = fileURLToPath(url)
    const own = syntaxErrorPlace(path)
    if (own !== undefined) return `${text} at ${own}`
    const culprit = brokenImport(url)
    const there = culprit === undefined ? undefined : syntaxErrorPlace(culprit)
    if (culprit !== undefined && there !== undefined)
      return `${text} in ${culprit} (imported by ${path}) at ${there}`
  }
  return text
}

/**
 * Where the syntax error of the module at `path` lies, `line <n>: <its text>`, or undefined: the
 * error an import throws says what, not where (Node prints the place, `node --check` too).
 */
function syntaxErrorPlace(path: string): string | undefined {
  const checked = spawnSync(process.execPath, ['--check', path], {
    encoding: 'utf8',
    timeout: PLACE_TIMEOUT_MS,
  })
  // "<path>:<line>\n<the line's text>\n<a caret>\n\nSyntaxError: …"
  const [head, source] = (checked.stderr ?? '').split('\n')
  const line = /:(\d+)$/.exec(head ?? '')?.[1]
  return line === undefined ? undefined : `line ${line}: ${(source ?? '').trim().slice(0, 80)}`
}

/**
 * Walks the static imports of the module at `url` that name files (`./`, `../`, `/`, `file:`),
 * compiling each without running any (a child process, as compiling a module apart from loading
 * it needs `--experimental-vm-modules`), and prints the path of the first that does not compile.
 */
const WALK_SCRIPT = `
const { SourceTextModule } = require('node:vm')
const { readFileSync } = require('node:fs')
const { fileURLToPath } = require('node:url')
const seen = new Set([process.argv[1]])
const queue = [process.argv[1]]
while (queue.length > 0 && seen.size < 1000) {
  const url = queue.shift()
  if (/\\.(cjs|json|node)$/.test(url)) continue // not ES modules: not compiled as one
  let module
  try {
    module = new SourceTextModule(readFileSync(fileURLToPath(url), 'utf8'), { identifier: url })
  } catch (error) {
    if (error instanceof SyntaxError) { process.stdout.write(fileURLToPath(url)); break }
    continue
  }
  for (const specifier of module.dependencySpecifiers) {
    if (!/^(\\.{1,2}\\/|\\/|file:)/.test(specifier)) continue
    const next = new URL(specifier, url).href
    if (!seen.has(next)) { seen.add(next); queue.push(next) }
  }
}`

/** The path of a file the module at `url` imports (directly or not) that does not compile, if any. */
function brokenImport(url: string): string | undefined {
  const walked = spawnSync(
    process.execPath,
    ['--experimental-vm-modules', '--no-warnings', '-e', WALK_SCRIPT, url],
    { encoding: 'utf8', timeout: PLACE_TIMEOUT_MS },
  )
  const path = (walked.stdout ?? '').trim()
  return path === '' ? undefined : path
}
