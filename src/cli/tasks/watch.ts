import type { WatchedEvent } from '../../client/event-source.ts'
import { openHttpTarget } from './http-target.ts'
import type { TargetOptions } from './target.ts'

/** Flags of `taskmesh watch`. */
export interface WatchFlags extends TargetOptions {
  ids?: string
  state?: string
  event?: string
  json: boolean
}

/** `HH:MM:SS.mmm` of a Unix ms time, in UTC. */
function clock(at: number): string {
  return new Date(at).toISOString().slice(11, 23)
}

/**
 * One line of `taskmesh watch`: time (UTC), task id, event, the state it leads to, and its facts,
 * e.g. `10:51:37.204 bafkrei… finished  state=failed status=failed epoch=1 error=boom`.
 */
export function formatEvent(e: WatchedEvent): string {
  const facts = Object.entries(e.detail ?? {}).map(([k, v]) => `${k}=${v}`)
  const state = e.state === undefined ? [] : [`state=${e.state}`]
  return [clock(e.at), e.taskId, e.event.padEnd(16), ...state, ...facts].join(' ').trimEnd()
}

/**
 * `taskmesh watch`: prints one line per task event of the daemon (see {@link formatEvent}), or
 * the JSON of each with `--json`, filtered by `--ids`, `--state` and `--event` (the node checks
 * them: a bad one is refused with the reason). Runs until interrupted (exit 0); a stream the
 * daemon ends (it stopped) exits 1.
 */
export async function runWatch(flags: WatchFlags): Promise<void> {
  const target = await openHttpTarget(flags, 'taskmesh watch')
  const query: Record<string, string> = {}
  if (flags.ids !== undefined) query.ids = flags.ids
  if (flags.state !== undefined) query.state = flags.state
  if (flags.event !== undefined) query.event = flags.event
  const stop = new AbortController()
  const interrupted = () => stop.abort()
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  try {
    for await (const e of target.events(query, stop.signal)) {
      console.log(flags.json ? JSON.stringify(e) : formatEvent(e))
    }
    if (!stop.signal.aborted) throw new Error('the daemon ended the event stream (did it stop?)')
  } finally {
    process.off('SIGINT', interrupted)
    process.off('SIGTERM', interrupted)
    await target.close()
  }
}
