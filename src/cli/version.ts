import { readFileSync } from 'node:fs'

/**
 * The version in taskmesh's own package.json, found by walking up from this module: the same
 * answer from the sources (`src/cli/`), the build (`dist/src/cli/`) and an installed package.
 */
export function packageVersion(from: string | URL = import.meta.url): string {
  let dir = new URL('.', from)
  for (;;) {
    const pkg = readPackageJson(new URL('package.json', dir))
    if (pkg?.name === 'taskmesh' && typeof pkg.version === 'string') return pkg.version
    const parent = new URL('..', dir)
    if (parent.href === dir.href) throw new Error(`no package.json of taskmesh above ${from}`)
    dir = parent
  }
}

function readPackageJson(url: URL): { name?: unknown; version?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(url, 'utf8')) as { name?: unknown; version?: unknown }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}
