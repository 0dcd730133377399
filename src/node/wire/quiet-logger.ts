import type { ComponentLogger, Logger } from '@libp2p/interface'

const ignore = (): void => undefined

/** A logger that writes nothing; its scopes are itself. */
const quiet: Logger = Object.assign((_formatter: unknown, ..._args: unknown[]) => undefined, {
  error: ignore,
  trace: ignore,
  enabled: false,
  newScope: (): Logger => quiet,
})

/** A libp2p component logger whose every logger is {@link quiet}. */
const quietComponents: ComponentLogger = { forComponent: () => quiet }

/**
 * The logger libp2p's components get: libp2p's own (the `debug`-style one that `DEBUG=libp2p*`
 * turns on) when `DEBUG` is set, else one that writes nothing and builds nothing.
 *
 * libp2p makes a logger for every connection, stream, handshake and query, enabled or not, and
 * each asked whether stderr is a terminal (a system call) to choose colours: 3–6 % of the CPU of a
 * 100-node mesh forming. With `DEBUG` unset nothing would be written anyway.
 *
 * @returns undefined when `DEBUG` is set (libp2p then makes its default logger)
 */
export function libp2pLogger(env: NodeJS.ProcessEnv = process.env): ComponentLogger | undefined {
  const debug = env.DEBUG
  return debug !== undefined && debug !== '' ? undefined : quietComponents
}
