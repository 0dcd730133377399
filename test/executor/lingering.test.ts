import { describe, expect, it } from 'vitest'
import { Executor } from '../../src/executor/executor.ts'
import { HandlerRegistry } from '../../src/executor/handler-registry.ts'
import type { LingeringRun } from '../../src/executor/lingering-runs.ts'
import { createLogger } from '../../src/log/logger.ts'
import { warnLingeringRuns } from '../../src/node/run/lingering-warning.ts'
import { request } from './helpers.ts'

describe('inline handler calls that outlive their attempt', () => {
  it('are counted until they settle, and warned of once a minute per type', async () => {
    const registry = await HandlerRegistry.withBuiltins()
    const releases: Array<() => void> = []
    // ignores its signal: settles only when the test says
    registry.register('zombie', {
      mode: 'inline',
      run: () => new Promise((resolve) => releases.push(() => resolve('late'))),
    })
    registry.register('polite', {
      mode: 'inline',
      run: (_input, ctx) =>
        new Promise((_resolve, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
        ),
    })
    const executor = new Executor({ registry, lingerGraceMs: 50 })
    const seen: LingeringRun[] = []
    executor.lingering.onLinger((run) => seen.push(run))
    const logged: Array<Record<string, unknown>> = []
    const destination = { write: (line: string) => logged.push(JSON.parse(line)) }
    warnLingeringRuns(executor.lingering, createLogger({ level: 'warn', format: 'json', destination }))

    const outcomes = await Promise.all([
      executor.run(request('zombie', null, { timeoutMs: 30 })),
      executor.run(request('zombie', null, { timeoutMs: 30 })),
      executor.run(request('polite', null, { timeoutMs: 30 })),
    ])
    expect(outcomes.map((o) => o.status)).toEqual(['failed', 'failed', 'failed'])
    // the polite one stopped at its signal: only the two zombies run on past the grace
    const counted = new Promise<void>((resolve) =>
      executor.lingering.onLinger((r) => r.lingering === 2 && resolve()),
    )
    await counted
    expect(executor.lingering.count).toBe(2)
    expect(seen.map((s) => [s.type, s.lingering])).toEqual([
      ['zombie', 1],
      ['zombie', 2],
    ])
    const warned = logged.filter((l) =>
      String(l.msg).startsWith('inline handler ran on after its attempt ended'),
    )
    expect(warned).toEqual([expect.objectContaining({ type: 'zombie', lingering: 1, heldBack: 0 })])

    for (const release of releases) release()
    await new Promise((resolve) => setImmediate(resolve))
    expect(executor.lingering.count).toBe(0)
    await executor.close()
  })
})
