import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root. */
export const REPO = fileURLToPath(new URL('..', import.meta.url))
/** The `taskmesh` command as the package ships it: runs the compiled `dist/`. */
export const BIN = join(REPO, 'bin', 'taskmesh.js')
/** What `npm run build` compiles into `dist/`. */
const SOURCES = ['src', 'simulations', 'tsconfig.build.json', 'tsconfig.json']
/** A file `npm run build` writes; its time is the build's. */
const BUILT = join(REPO, 'dist', 'src', 'index.js')

/** Thrown when `dist/` is missing or older than a source: tests would run old code. */
export class StaleBuildError extends Error {
  constructor(reason: string) {
    super(`${reason}: run \`npm run build\` (\`npm test\` builds first)`)
    this.name = 'StaleBuildError'
  }
}

let checked = false

/**
 * Throws {@link StaleBuildError} unless `dist/` was built after the last change to every source,
 * so whatever runs the compiled CLI (the CLI and chaos tests, `npm run chaos`, the package test)
 * never runs code older than the sources beside it. Checks once per process.
 */
export function assertFreshBuild(): void {
  if (checked) return
  let builtAt: number
  try {
    builtAt = statSync(BUILT).mtimeMs
  } catch {
    throw new StaleBuildError('dist/ is not built')
  }
  const newer = SOURCES.map((s) => newerThan(join(REPO, s), builtAt)).find((f) => f !== undefined)
  if (newer !== undefined) throw new StaleBuildError(`dist/ is older than ${newer.slice(REPO.length)}`)
  checked = true
}

/** The first file at or under `path` modified after `time`, if any. */
function newerThan(path: string, time: number): string | undefined {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs > time ? path : undefined
  for (const entry of readdirSync(path)) {
    const found = newerThan(join(path, entry), time)
    if (found !== undefined) return found
  }
  return undefined
}
