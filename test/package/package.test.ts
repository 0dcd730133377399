import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertFreshBuild, REPO } from '../../scripts/dist.ts'
import { CONSUMER_PACKAGE, CONSUMER_TS, CONSUMER_TSCONFIG, HANDLERS_TS, TWO_NODES_MJS } from './consumer.ts'

/**
 * The package as a consumer gets it: `npm pack` of the dist/ that `npm test` built (and the CLI
 * and chaos tests run), installed into a fresh project from the npm cache the CI's `npm ci`
 * filled, then used with plain `node` (no TypeScript loader), type-checked under NodeNext, and run
 * as the `taskmesh` command.
 */
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc')
/** Installing unpacks ~140 packages: a minute or more on a loaded 2-core machine. */
const SETUP_MS = 240_000
/** One command (node, tsc, npx) on a loaded machine; a test may run a few. */
const COMMAND_MS = 90_000
const TEST_MS = 180_000

interface Run {
  stdout: string
  stderr: string
  code: number
}

/**
 * The environment of a child: without what `npm test` tells its scripts about this project
 * (npm_package_*, npm_lifecycle_*, the local prefix), which would point a nested npm at the
 * repository, and without NODE_OPTIONS, so `node` runs plain.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    const k = key.toLowerCase()
    if (k.startsWith('npm_') && !k.startsWith('npm_config_')) continue
    if (k === 'npm_config_local_prefix' || k === 'npm_config_call' || k === 'node_options') continue
    env[key] = value
  }
  return env
}

/** Runs `file args` in `cwd`; resolves with its output and exit code (never rejects on a non-zero exit). */
function run(file: string, args: string[], cwd: string, timeoutMs = COMMAND_MS): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd, env: childEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : undefined
        if (code === undefined) reject(new Error(`${file} ${args.join(' ')}: ${error?.message}\n${stderr}`))
        else resolve({ stdout, stderr, code })
      },
    )
  })
}

/** Like {@link run}, failing with the command's stderr unless it exits 0. */
async function ok(file: string, args: string[], cwd: string, timeoutMs?: number): Promise<Run> {
  const r = await run(file, args, cwd, timeoutMs)
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`)
  return r
}

/** name → versions of every package a lock file installs (`dev` ones only when asked). */
async function lockVersions(lockFile: string, withDev: boolean): Promise<Map<string, Set<string>>> {
  const lock = JSON.parse(await readFile(lockFile, 'utf8')) as {
    packages: Record<string, { version?: string; dev?: boolean }>
  }
  const versions = new Map<string, Set<string>>()
  for (const [path, entry] of Object.entries(lock.packages)) {
    const at = path.lastIndexOf('node_modules/')
    if (at === -1 || entry.version === undefined || (entry.dev === true && !withDev)) continue
    const name = path.slice(at + 'node_modules/'.length)
    versions.set(name, (versions.get(name) ?? new Set()).add(entry.version))
  }
  return versions
}

/** `1.2.3` → `1`, `0.4.1` → `0.4` (the range a caret accepts). */
const major = (v: string) => (v.startsWith('0.') ? v.split('.', 2).join('.') : v.split('.', 1)[0])

interface Packed {
  filename: string
  size: number
  entryCount: number
  files: { path: string }[]
}

describe('the packed package, installed into a fresh project', () => {
  let tmp: string
  let consumer: string
  let packed: Packed

  beforeAll(async () => {
    // packs the build the other tests run: no `prepack` rebuild under the daemons they start
    assertFreshBuild()
    tmp = await mkdtemp(join(tmpdir(), 'taskmesh-package-'))
    const pack = await ok('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], REPO)
    ;[packed] = JSON.parse(pack.stdout) as Packed[]
    consumer = join(tmp, 'consumer')
    await mkdir(consumer)
    await writeFile(join(consumer, 'package.json'), JSON.stringify(CONSUMER_PACKAGE))
    // @types/node for the TypeScript consumer, at the version the repository's lock pins
    const repoLock = await lockVersions(join(REPO, 'package-lock.json'), true)
    const typesNode = [...(repoLock.get('@types/node') ?? [])][0]
    await ok(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        join(tmp, packed.filename),
        `@types/node@${typesNode}`,
      ],
      consumer,
      SETUP_MS,
    )
  }, SETUP_MS)

  afterAll(async () => {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
  })

  it(
    'ships the build, its declarations and the licence; no sources, tests or scripts',
    () => {
      const paths = packed.files.map((f) => f.path)
      for (const file of [
        'package.json',
        'README.md',
        'LICENSE',
        'bin/taskmesh.js',
        'dist/src/index.js',
        'dist/src/index.d.ts',
        'dist/src/index.js.map',
        'dist/src/executor/worker.js',
        'dist/src/simulation/node-thread.js',
        'dist/src/http/dashboard/static/index.html',
        'dist/src/http/dashboard/static/app.js',
        'dist/src/http/dashboard/static/style.css',
      ]) {
        expect(paths, file).toContain(file)
      }
      const stray = paths.filter(
        (p) =>
          !['package.json', 'README.md', 'LICENSE', 'bin/taskmesh.js'].includes(p) &&
          !/^dist\/(src|simulations)\/.+\.(js|d\.ts|js\.map)$/.test(p) &&
          !/^dist\/src\/http\/dashboard\/static\/[a-z]+\.(html|js|css)$/.test(p),
      )
      expect(stray).toEqual([])
      expect(packed.entryCount).toBe(paths.length)
    },
    TEST_MS,
  )

  it(
    'installs the tree the tests ran on: npm ls passes, no TypeScript loader, same majors as the lock',
    async () => {
      await ok('npm', ['ls', '--all'], consumer)
      expect(existsSync(join(consumer, 'node_modules', 'tsx'))).toBe(false)
      expect(existsSync(join(consumer, 'node_modules', 'typescript'))).toBe(false)

      const ours = await lockVersions(join(REPO, 'package-lock.json'), false)
      const theirs = await lockVersions(join(consumer, 'package-lock.json'), false)
      const differs: string[] = []
      for (const [name, versions] of theirs) {
        const mine = ours.get(name)
        if (name === 'taskmesh' || mine === undefined) continue
        const a = [...new Set([...mine].map(major))].sort().join(' ')
        const b = [...new Set([...versions].map(major))].sort().join(' ')
        if (a !== b)
          differs.push(`${name}: tests ${[...mine].join(' ')}, consumer ${[...versions].join(' ')}`)
      }
      expect(differs).toEqual([])
      // noise and yamux frame on the uint8arraylist the rest of the stack uses (the memory
      // transport, a test and simulation aid, still brings its own 2.x)
      const lock = JSON.parse(await readFile(join(consumer, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, { version?: string }>
      }
      const seenBy = (pkg: string) =>
        (
          lock.packages[`node_modules/${pkg}/node_modules/uint8arraylist`] ??
          lock.packages['node_modules/uint8arraylist']
        )?.version
      for (const pkg of ['@libp2p/noise', '@libp2p/yamux', '@libp2p/utils', 'libp2p']) {
        expect(major(seenBy(pkg) ?? 'none'), pkg).toBe('3')
      }
    },
    TEST_MS,
  )

  it(
    'imports under plain node and runs a task stolen between two nodes over TCP',
    async () => {
      await writeFile(join(consumer, 'two-nodes.mjs'), TWO_NODES_MJS)
      const { stdout } = await ok(process.execPath, ['two-nodes.mjs'], consumer)
      const { owner, thief, record, atThief, served } = JSON.parse(stdout)
      expect(served).toEqual([200, 200, 200])
      expect(record.status).toBe('succeeded')
      expect(record.owner).toBe(owner)
      expect(record.executor).toBe(thief)
      let digest = createHash('sha256').update('taskmesh').digest()
      for (let i = 1; i < 1000; i++) digest = createHash('sha256').update(digest).digest()
      expect(record.output).toBe(digest.toString('hex'))
      expect(atThief).toEqual(record)
    },
    TEST_MS,
  )

  it(
    'type-checks a TypeScript consumer under NodeNext',
    async () => {
      await writeFile(join(consumer, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG))
      await writeFile(join(consumer, 'consumer.ts'), CONSUMER_TS)
      const { stdout } = await ok(process.execPath, [TSC, '-p', 'tsconfig.json'], consumer)
      expect(stdout).toBe('')
    },
    TEST_MS,
  )

  it(
    'runs the taskmesh command: --version, and a clear error for a TypeScript handlers module',
    async () => {
      const { version } = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as {
        version: string
      }
      expect((await ok('npx', ['--no-install', 'taskmesh', '--version'], consumer)).stdout.trim()).toBe(
        version,
      )
      const bin = join(consumer, 'node_modules', '.bin', 'taskmesh')
      expect((await ok(bin, ['-V'], consumer)).stdout.trim()).toBe(version)

      await writeFile(join(consumer, 'handlers.ts'), HANDLERS_TS)
      const daemon = await run(
        bin,
        [
          ...['daemon', '--handlers', './handlers.ts'],
          ...['--data-dir', 'data', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-http'],
        ],
        consumer,
      )
      expect(daemon.code).toBe(1)
      expect(daemon.stderr).toContain('handlers.ts: cannot be imported')
      expect(daemon.stderr).toContain('compile the module to .js')
    },
    TEST_MS,
  )
})
