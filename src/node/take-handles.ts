import { setMaxListeners } from 'node:events'
import type { ResultRecord } from '../protocol/records/result-record.ts'
import { DEFAULT_RESULT_WAIT_MS } from './options.ts'
import { type AcceptanceParts, custodyGrace, takeSubmission } from './owner/acceptance.ts'
import { isNodeStoppedError } from './stopped-error.ts'
import { checkSubmitOptions, type SubmitOptions, type TakenHandles, type TaskHandle } from './task-handle.ts'

/** What {@link takeHandles} uses of a node. */
export interface HandleParts {
  /** What takes a submission in (see `takeSubmission`). */
  acceptance: AcceptanceParts
  /** The node's peer id: the submitter when `opts.submitter` names none. */
  self: string
  /** Waits for a task's result (the node's `waitResult`). */
  waitResult(taskId: string, signal?: AbortSignal): Promise<ResultRecord>
}

/**
 * Takes a submission in (see `takeSubmission`; `after`: its custody waits for that) and makes
 * its handles, in submission order; `opts.onResult` is called with each result as it lands.
 * @throws InvalidTaskError for a bad option, before anything is accepted
 */
export async function takeHandles(
  parts: HandleParts,
  specs: unknown[],
  opts: SubmitOptions,
  after?: Promise<void>,
): Promise<TakenHandles> {
  checkSubmitOptions(opts) // before anything is accepted
  const submitter = opts.submitter ?? parts.self
  const { prepared, accepted } = await takeSubmission(parts.acceptance, specs, submitter, {
    custodyAfter: after,
  })
  const handles = prepared.map(({ task, key }) => {
    const { onResult } = opts
    if (onResult !== undefined) parts.waitResult(task.id).then(onResult, () => undefined)
    const result = (signal?: AbortSignal) => parts.waitResult(task.id, signal)
    return key === undefined ? { id: task.id, task, result } : { id: task.id, task, key, result }
  })
  return { handles, accepted }
}

/**
 * The results of `handles` (see `TaskmeshNode.submitAndWait`): null for a task with none when
 * `signal` aborted. @throws NodeStoppedError when the node stopped before a result came
 */
function waitForHandles(
  handles: Array<{ result(signal?: AbortSignal): Promise<ResultRecord> }>,
  signal: AbortSignal,
): Promise<Array<ResultRecord | null>> {
  return Promise.all(
    handles.map((h) =>
      h.result(signal).catch((err: unknown) => {
        if (isNodeStoppedError(err)) throw err
        return null
      }),
    ),
  )
}

/**
 * The signal a whole submission's waits share: `signal`, else one that aborts after
 * `DEFAULT_RESULT_WAIT_MS` (owned here: every handle's wait may listen to it).
 */
function waitSignal(signal: AbortSignal | undefined): AbortSignal {
  if (signal !== undefined) return signal
  const own = AbortSignal.timeout(DEFAULT_RESULT_WAIT_MS)
  setMaxListeners(0, own)
  return own
}

/**
 * Takes a submission in through `take` and waits for its results (see `TaskmeshNode.submitAndWait`):
 * null for a task with none when `opts.signal` aborted (without one, after `DEFAULT_RESULT_WAIT_MS`).
 * @throws InvalidTaskError for a bad option; NodeStoppedError when the node stops before a result
 */
export async function submitAndWaitWith(
  take: (opts: SubmitOptions, after: Promise<void>) => Promise<TakenHandles>,
  opts: { submitter?: string; signal?: AbortSignal } | undefined,
): Promise<{ handles: TaskHandle[]; results: Array<ResultRecord | null> }> {
  const given = opts ?? {}
  checkSubmitOptions(given)
  const signal = waitSignal(given.signal)
  const { handles, accepted } = await take(given, custodyGrace(signal))
  accepted.catch(() => undefined) // a failure is awaited below when it matters
  const results = await waitForHandles(handles, signal)
  if (results.some((r) => r === null)) await accepted
  return { handles, results }
}
