/** A scheduling policy's parameters are out of range; the message says which and why. */
export class InvalidPolicyError extends Error {
  override readonly name = 'InvalidPolicyError'
  readonly code = 'ERR_INVALID_POLICY'
}

/** A task was granted while another lease on it is still live. */
export class LeaseConflictError extends Error {
  override readonly name = 'LeaseConflictError'
  readonly code = 'ERR_LEASE_CONFLICT'
  constructor(
    readonly taskId: string,
    readonly holder: string,
    readonly epoch: number,
  ) {
    super(`task ${taskId} is already leased to ${holder} at epoch ${epoch}`)
  }
}
