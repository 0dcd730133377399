/**
 * The daemon's console: its own lines (`ready`, `peer <id> joined`, `stopped`…) are what scripts
 * read on stdout, so a handler's `console.log` must not land among them.
 */

/** Set (to `stderr`) in a process whose handlers' console output goes to stderr; worker threads read it. */
export const HANDLER_OUTPUT_ENV = 'TASKMESH_HANDLER_OUTPUT'

/** Writes one of the daemon's console lines to stdout. */
export function say(line: string): void {
  process.stdout.write(`${line}\n`)
}

/**
 * Sends what handlers print with `console.log`, `console.info` and `console.debug` to stderr —
 * inline handlers here, worker handlers in their threads (which read {@link HANDLER_OUTPUT_ENV}).
 * The daemon's own lines use {@link say}.
 */
export function handlerOutputToStderr(): void {
  process.env[HANDLER_OUTPUT_ENV] = 'stderr'
  console.log = console.info = console.debug = console.error.bind(console)
}
