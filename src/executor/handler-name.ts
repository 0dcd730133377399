/**
 * Handler types: the same rule as `NAME_PATTERN` in `src/task/spec.ts` (a test keeps the two
 * equal). Repeated here so worker threads, which validate operator modules too, need not import
 * `spec.ts` and zod: that would add about 200 ms to every thread start.
 */
export const HANDLER_NAME_PATTERN = /^[a-z0-9][a-z0-9._:/-]{0,63}$/
