import { existsSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
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
    // the one-time link hands the page the token and leaves the address bar bare
    await page.goto(`${base}/?token=${api.token}`)
    expect(page.url()).toBe(`${base}/`)
    await page.locator('#peers tbody tr').nth(2).waitFor()
    const mesh = await page.locator('#peers tbody').innerText()
    for (const n of nodes) expect(mesh).toContain(n.peerId.slice(-6))
    await page.locator('#live', { hasText: 'live' }).waitFor()

    // submit work from the page itself (same origin, the token the page keeps)
    const status = await page.evaluate(async () => {
      const tasks = Array.from({ length: 24 }, (_, i) => ({ type: 'sleep', input: { ms: 250, output: i } }))
      tasks.push({ type: 'fail', input: { message: 'shown on the dashboard' }, maxAttempts: 1 } as never)
      const res = await fetch('/tasks', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${sessionStorage.getItem('taskmesh-token')}`,
        },
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

  it('keeps the token out of cookies: another port of 127.0.0.1 gets none; a reload stays in, a new tab is out', async () => {
    const { port } = new URL(base)
    const context = await browser.newContext()
    // the cookie an older version set, which the browser sends to every port of the host
    const old = { name: `taskmesh-token-${port}`, value: api.token, domain: '127.0.0.1', path: '/' }
    await context.addCookies([
      old,
      { ...old, name: 'taskmesh-token-1' },
      { ...old, name: 'other', value: 'kept' },
    ])
    const page = await context.newPage()
    await page.goto(`${base}/?token=${api.token}`)
    await page.locator('#live', { hasText: 'live' }).waitFor()
    expect(page.url()).toBe(`${base}/`) // neither in the query nor in the fragment
    // a web app on another port of the same host (a dev server, a notebook) sees no token
    const seen: IncomingHttpHeaders[] = []
    const other = createServer((req, res) => {
      seen.push(req.headers)
      res.end('another app')
    })
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
    try {
      await page.goto(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`)
      expect(seen.length).toBeGreaterThan(0)
      const cookies = seen.map((h) => h.cookie ?? '').join('; ')
      expect(cookies).toBe(seen.map(() => 'other=kept').join('; '))
      expect(cookies).not.toContain(api.token)
    } finally {
      other.close()
    }

    // no cookie holds it (the old ones are gone, another is kept), and the API takes none
    expect((await context.cookies()).map((c) => c.name)).toEqual(['other'])
    expect((await fetch(`${base}/status`, { headers: { cookie: `${old.name}=${api.token}` } })).status).toBe(
      401,
    )

    // back to the dashboard in this tab, then a reload: still in (sessionStorage outlives both)
    await page.goBack()
    expect(await page.evaluate(() => sessionStorage.getItem('taskmesh-token'))).toBe(api.token)
    await page.reload()
    await page.locator('#main').waitFor({ state: 'visible' })
    await page.locator('#peers tbody tr').nth(2).waitFor()
    await page.locator('#live', { hasText: 'live' }).waitFor()

    // a new tab of the same browser has no token: it asks for it and shows no data
    const fresh = await context.newPage()
    await fresh.goto(`${base}/`)
    await fresh.locator('#login').waitFor({ state: 'visible' })
    expect(await fresh.locator('#main').isHidden()).toBe(true)
    await context.close()
  })
})
