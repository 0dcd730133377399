import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { TaskmeshClient } from '../client/taskmesh-client.ts'
import type { ResultRecord } from '../protocol/result-record.ts'

/** Data dir of a daemon when none is named. */
export const DEFAULT_DATA_DIR = process.env.TASKMESH_DATA_DIR ?? join(homedir(), '.taskmesh')
/** File in the data dir where a running daemon writes how to reach it. */
export const API_FILE = 'api.json'

/** Where a CLI command sends its request. */
export interface TargetOptions {
  api?: string
  peer?: string
  dataDir?: string
}

/** The operations the CLI needs, over HTTP or over the submit protocol. */
export interface Target {
  submit(specs: unknown[]): Promise<string[]>
  result(id: string, waitMs: number): Promise<ResultRecord | undefined>
  status(): Promise<unknown>
  close(): Promise<void>
}

class HttpTarget implements Target {
  constructor(private readonly base: string) {}

  async submit(specs: unknown[]): Promise<string[]> {
    const body = (await this.call('POST', '/tasks', { tasks: specs })) as { ids: string[] }
    return body.ids
  }

  async result(id: string, waitMs: number): Promise<ResultRecord | undefined> {
    const res = await fetch(
      `${this.base}/tasks/${encodeURIComponent(id)}${waitMs > 0 ? `?wait=${waitMs}` : ''}`,
    )
    if (res.status === 404) return undefined
    return (await this.parse(res)) as ResultRecord
  }

  async status(): Promise<unknown> {
    return this.call('GET', '/status')
  }

  async close(): Promise<void> {}

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return this.parse(res)
  }

  private async parse(res: Response): Promise<unknown> {
    const body = (await res.json()) as { error?: string }
    if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`)
    return body
  }
}

class PeerTarget implements Target {
  constructor(private readonly client: TaskmeshClient) {}
  submit(specs: unknown[]): Promise<string[]> {
    return this.client.submit(specs)
  }
  result(id: string, waitMs: number): Promise<ResultRecord | undefined> {
    return this.client.result(id, { wait: waitMs > 0, timeoutMs: waitMs > 0 ? waitMs : undefined })
  }
  status(): Promise<unknown> {
    return this.client.status()
  }
  close(): Promise<void> {
    return this.client.close()
  }
}

/** Picks the target: `--peer` (light client), else `--api`, else the daemon found in `--data-dir`. */
export async function openTarget(opts: TargetOptions): Promise<Target> {
  if (opts.peer !== undefined) return new PeerTarget(await TaskmeshClient.connect(opts.peer))
  if (opts.api !== undefined) return new HttpTarget(opts.api.replace(/\/$/, ''))
  const file = join(opts.dataDir ?? DEFAULT_DATA_DIR, API_FILE)
  let info: { url?: string }
  try {
    info = JSON.parse(await readFile(file, 'utf8'))
  } catch {
    throw new Error(
      `no running daemon found: ${file} is missing (start one with "taskmesh daemon", or pass --api or --peer)`,
    )
  }
  if (typeof info.url !== 'string') throw new Error(`${file} has no "url"`)
  return new HttpTarget(info.url)
}
