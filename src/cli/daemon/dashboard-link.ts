import { resolve } from 'node:path'
import { DEFAULT_DATA_DIR } from '../defaults.ts'
import { apiTokenOf, checkTargetFlags, readApiFile, type TargetOptions } from '../tasks/target.ts'

/**
 * `taskmesh dashboard`: prints the link that opens the daemon's dashboard logged in — the API's
 * one-time link `<url>/?token=<token>`, which sends the browser on to `/#token=<token>`: the page
 * keeps the token in its tab's sessionStorage (from `<data-dir>/api.json`, or `--api` with `--api-token`).
 */
export async function runDashboardLink(flags: TargetOptions): Promise<void> {
  if (flags.peer !== undefined) {
    throw new Error(
      "the dashboard is served by a daemon's HTTP API: use --api <url> or --data-dir <dir>, not --peer",
    )
  }
  checkTargetFlags(flags)
  let url = flags.api
  let token = apiTokenOf(flags)
  if (url === undefined) {
    const dataDir = resolve(flags.dataDir ?? DEFAULT_DATA_DIR)
    const info = await readApiFile(dataDir)
    if (typeof info.url !== 'string') {
      throw new Error(
        `the daemon in ${dataDir} serves no HTTP API (started with --no-http): it has no dashboard`,
      )
    }
    url = info.url
    token = info.token
  }
  let link: URL
  try {
    link = new URL('/', url)
  } catch {
    throw new Error(`--api "${url}" is not a URL (e.g. http://127.0.0.1:8080)`)
  }
  if (token !== undefined) link.searchParams.set('token', token)
  console.log(link.toString())
  console.error(
    'open it in a browser on this machine: it logs in that tab (the token stays in the tab, not in a cookie)',
  )
}
