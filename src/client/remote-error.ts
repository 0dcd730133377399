/** A peer refused a request; `code` is the peer's error code (e.g. `ERR_INVALID_TASK`). */
export class RemoteError extends Error {
  override readonly name = 'RemoteError'
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}
