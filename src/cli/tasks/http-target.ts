import { HttpClient } from '../../client/http-client.ts'
import { openTarget, type TargetOptions } from './target.ts'

/**
 * The daemon's HTTP API client for a command that reads the operator's views (`watch`,
 * `status --mesh`): they are served over HTTP only, so `--peer` is refused, saying so.
 */
export async function openHttpTarget(flags: TargetOptions, command: string): Promise<HttpClient> {
  if (flags.peer !== undefined) {
    throw new Error(`${command} reads a daemon's HTTP API: use --api <url> or --data-dir <dir>, not --peer`)
  }
  const target = await openTarget(flags, { httpOnly: true })
  if (!(target instanceof HttpClient)) {
    await target.close()
    throw new Error(`${command} reads a daemon's HTTP API: use --api <url> or --data-dir <dir>`)
  }
  return target
}
