import type { MeshClient } from '../../client/mesh-client.ts'
import type { TaskStateReply } from '../../protocol/rpc/submit-client.ts'

/** Tasks of a `submit --wait` whose state is asked when their results are not in, at most. */
export const PENDING_STATES_ASKED = 20
/**
 * How long `submit --wait` waits before it looks at the tasks not in yet, once, ms: a little past
 * the time after which their owner reports a task no live node can run (`unschedulable`, 10 s).
 */
export const PENDING_LOOK_MS = 12_000

/** How each of the first {@link PENDING_STATES_ASKED} of `ids` stands; a failed ask is left out. */
export async function pendingStates(
  target: Pick<MeshClient, 'state'>,
  ids: readonly string[],
): Promise<Map<string, TaskStateReply>> {
  const asked = ids.slice(0, PENDING_STATES_ASKED)
  const states = await Promise.all(asked.map((id) => target.state(id).catch(() => undefined)))
  const found = new Map<string, TaskStateReply>()
  asked.forEach((id, i) => {
    const state = states[i]
    if (state !== undefined) found.set(id, state)
  })
  return found
}

/** `id: unschedulable (reason)`, as `taskmesh result` words a state. */
export function stateText(id: string, state: TaskStateReply): string {
  return `${id}: ${state.state}${state.reason === undefined ? '' : ` (${state.reason})`}`
}

/**
 * Once, {@link PENDING_LOOK_MS} into a wait, says on stderr which of the tasks not in yet no live
 * node can run: a wait for them would otherwise run its whole `--wait-ms` in silence.
 */
export function warnUnschedulable(
  target: Pick<MeshClient, 'state'>,
  missing: () => string[],
  signal: AbortSignal,
): NodeJS.Timeout {
  const timer = setTimeout(async () => {
    const states = await pendingStates(target, missing())
    if (signal.aborted) return
    const stuck = [...states].filter(([, s]) => s.state === 'unschedulable')
    if (stuck.length === 0) return
    const [id, state] = stuck[0]
    const more = stuck.length > 1 ? ` (and ${stuck.length - 1} more)` : ''
    console.error(`still waiting: ${stateText(id, state)}${more}`)
  }, PENDING_LOOK_MS)
  timer.unref()
  return timer
}
