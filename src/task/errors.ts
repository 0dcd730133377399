/**
 * A submission was refused. `field` names the offending path (e.g. `tasks[2].timeoutMs`);
 * nothing of the submission was queued.
 */
export class InvalidTaskError extends Error {
  override readonly name = 'InvalidTaskError'
  readonly code = 'ERR_INVALID_TASK'
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(field === undefined ? message : `${field}: ${message}`)
  }
}

/** Most handler types an {@link UnknownHandlerError}'s message lists. */
const MAX_LISTED_TYPES = 20

/**
 * A task names a handler type that no node in reach has registered. The message lists `known`,
 * the types in reach (the first {@link MAX_LISTED_TYPES}), when given.
 */
export class UnknownHandlerError extends Error {
  override readonly name = 'UnknownHandlerError'
  readonly code = 'ERR_UNKNOWN_HANDLER'
  constructor(
    readonly type: string,
    readonly field?: string,
    readonly known: readonly string[] = [],
  ) {
    const more = known.length > MAX_LISTED_TYPES ? `, and ${known.length - MAX_LISTED_TYPES} more` : ''
    const listed =
      known.length === 0
        ? ''
        : ` (handler types in reach: ${known.slice(0, MAX_LISTED_TYPES).join(', ')}${more})`
    super(`${field === undefined ? '' : `${field}: `}unknown handler type "${type}"${listed}`)
  }
}

/** The node's queue is full: the submission is refused (back-pressure, not loss). */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError'
  readonly code = 'ERR_QUEUE_FULL'
}

/**
 * The node is stopping or stopped: it takes no submission, now or later (unlike a full queue or a
 * draining node, trying again here is of no use). Submit to a running node.
 */
export class NodeStoppedError extends Error {
  override readonly name = 'NodeStoppedError'
  readonly code = 'ERR_NODE_STOPPED'
  /**
   * @param message what the stopped node could not do (by default: take a submission)
   * @param taskId the task asked about, when there is one
   */
  constructor(
    message = 'the node is stopped: submit to a running node',
    readonly taskId?: string,
  ) {
    super(message)
  }
}

/**
 * A light client asked to submit (or to cancel a task) but its peer id is not on the node's
 * submitter allow-list (`allowSubmitters`); nothing was queued, nothing cancelled.
 */
export class SubmitterNotAllowedError extends Error {
  override readonly name = 'SubmitterNotAllowedError'
  readonly code = 'ERR_NOT_ALLOWED'
  /** @param what - what the peer may not do: `submit to` (the default) or `cancel tasks on`. */
  constructor(
    readonly peer: string,
    what = 'submit to',
  ) {
    super(`peer ${peer} may not ${what} this node: it is not on the node's submitter allow-list`)
  }
}

/** No result exists (yet) for a task id. */
export class ResultNotFoundError extends Error {
  override readonly name = 'ResultNotFoundError'
  readonly code = 'ERR_RESULT_NOT_FOUND'
}

/** No node in reach knows the task: it was never submitted, or its owner is unknown here. */
export class UnknownTaskError extends Error {
  override readonly name = 'UnknownTaskError'
  readonly code = 'ERR_UNKNOWN_TASK'
  constructor(readonly taskId: string) {
    super(`no task ${taskId} is known here (not owned, held, announced, or with a result)`)
  }
}

/**
 * The owner of a task cannot be reached (it died, or does not answer) and no node in reach has
 * taken the task over yet: no node can cancel it now. Its custodians adopt a dead owner's tasks
 * once they declared it dead; asked again then, the node that took the task over decides.
 */
export class OwnerDownError extends Error {
  override readonly name = 'OwnerDownError'
  readonly code = 'ERR_OWNER_DOWN'
  constructor(
    readonly owner: string,
    readonly taskId: string,
    options?: ErrorOptions,
  ) {
    super(`owner ${owner} of task ${taskId} is down and no node has taken its tasks yet: try again`, options)
  }
}

/**
 * Re-words a refusal of a one-item submission's `tasks[0]…` as `task…`, for the entry points that
 * take one spec (`TaskmeshNode.submit`, `POST /tasks` with a bare spec): a list of one keeps `tasks[0]`.
 */
export function asSingleSpecError(err: unknown): unknown {
  if (!(err instanceof InvalidTaskError || err instanceof UnknownHandlerError)) return err
  const field = err.field
  if (field === undefined || !field.startsWith('tasks[0]')) return err
  const single = `task${field.slice('tasks[0]'.length)}`
  if (err instanceof UnknownHandlerError) return new UnknownHandlerError(err.type, single, err.known)
  return new InvalidTaskError(err.message.slice(field.length + 2), single)
}
