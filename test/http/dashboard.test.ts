import { existsSync } from 'node:fs'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpApi } from '../../src/http/http-api.ts'
import type { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { startLocalMesh, waitForMesh } from '../../src/simulation/mesh.ts'
import { stopAll } from '../integration/helpers.ts'

/** Debian's chromium (.ci/run installs it); CHROMIUM_PATH names another. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
/** Where to save a screenshot of the dashboard, when set (the README's docs/dashboard.png). */
const SCREENSHOT = process.env.TASKMESH_SCREENSHOT

let nodes: TaskmeshNode[] = []
let api: HttpApi
let base: string
let browser: Browser

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`)
  }
  ;[nodes, browser] = await Promise.all([
    startLocalMesh({ nodes: 3, slots: 2 }),
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] }),
  ])
  await waitForMesh(nodes)
  api = new HttpApi(nodes[0])
  base = await api.listen(0)
})

afterAll(async () => {
  await browser?.close()
  await api?.close()
  await stopAll(nodes)
})

/** For the README: a few more seconds of work from every node, so the chart has a history. */
async function screenshot(page: Page, path: string): Promise<void> {
  for (let wave = 0; wave < 6; wave++) {
    const specs = Array.from({ length: 12 }, (_, i) => ({ type: 'sleep', input: { ms: 200 + 40 * i } }))
    await Promise.all(nodes.map((n, i) => (i === 0 || wave % 2 === 0 ? n.submitMany(specs) : undefined)))
    await page.waitForTimeout(1_500)
  }
  await page.locator('#story-close').click()
  await page.screenshot({ path, fullPage: true })
}

describe('the dashboard in headless Chromium', () => {
  it('without the token it asks for it and shows no data', async () => {
    const page = await browser.newPage()
    await page.goto(`${base}/`)
    await page.locator('#login').waitFor({ state: 'visible' })
    expect(await page.locator('#main').isHidden()).toBe(true)
    await page.close()
  })

  it('shows the peers, then the counters, the chart and the events move as work runs; a click shows a story', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } })
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    // the one-time link puts the token in a cookie and sends the browser on to /
    await page.goto(`${base}/?token=${api.token}`)
    expect(new URL(page.url()).search).toBe('')
    await page.locator('#peers tbody tr').nth(2).waitFor()
    const mesh = await page.locator('#peers tbody').innerText()
    for (const n of nodes) expect(mesh).toContain(n.peerId.slice(-6))
    await page.locator('#live', { hasText: 'live' }).waitFor()

    // submit work from the page itself (same origin, the cookie as token)
    const status = await page.evaluate(async () => {
      const tasks = Array.from({ length: 24 }, (_, i) => ({ type: 'sleep', input: { ms: 250, output: i } }))
      tasks.push({ type: 'fail', input: { message: 'shown on the dashboard' }, maxAttempts: 1 } as never)
      const res = await fetch('/tasks', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tasks }),
      })
      return res.status
    })
    expect(status).toBe(201)

    const number = async (selector: string) => Number(await page.locator(selector).innerText())
    await expect.poll(() => number('#card-accepted'), { timeout: 10_000 }).toBe(25)
    await expect.poll(() => number('#card-executed'), { timeout: 10_000 }).toBeGreaterThan(0)
    await expect.poll(() => number('#card-tasksGranted'), { timeout: 10_000 }).toBeGreaterThan(0)
    const chart = page.locator('#chart')
    await expect
      .poll(async () => Number(await chart.getAttribute('data-max-finished')), { timeout: 10_000 })
      .toBeGreaterThan(0)
    await expect
      .poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 10_000 })
      .toBeGreaterThan(1)
    await page.locator('#failures tbody tr').first().waitFor({ timeout: 10_000 })
    expect(await page.locator('#failures tbody').innerText()).toContain('shown on the dashboard')
    await expect.poll(() => page.locator('#events li').count(), { timeout: 10_000 }).toBeGreaterThan(10)

    await page.locator('#failures tbody td.id').first().click()
    await page.locator('#story-panel').waitFor({ state: 'visible' })
    // how the task ended, as this node saw it: run here (`finished`) or by a thief (`completed`)
    await expect
      .poll(() => page.locator('#story tbody').innerText(), { timeout: 10_000 })
      .toMatch(/\t(finished|completed)\t/)
    if (SCREENSHOT !== undefined) await screenshot(page, SCREENSHOT)
    expect(errors).toEqual([])
    await page.close()
  })
})
