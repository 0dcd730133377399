/** The `code` of a taskmesh error (e.g. `ERR_INVALID_TASK`), or `ERR_INTERNAL`. */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && code.length > 0 && code.length <= 64 ? code : 'ERR_INTERNAL'
}
