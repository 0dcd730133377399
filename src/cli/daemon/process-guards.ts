import type { Logger } from '../../log/logger.ts'
import { say } from './console-lines.ts'

/**
 * Keeps the daemon up when its standard output's reader goes away (`taskmesh daemon | head -1`, a
 * supervisor restarted): its console lines are for that reader, so with none they are dropped.
 * Before, the next `peer … joined` line died of `write EPIPE` and took the running tasks with it.
 * Any other stdout error is logged once.
 */
export function survivePipeClosed(log: Logger): void {
  let told = false
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && !told)
      log.warn({ error: err.message }, 'stdout failed: console lines dropped')
    told = true
  })
}

/**
 * What the daemon does with an error no code caught — most often an inline handler's (a timer it
 * left behind throwing after its task ended):
 * - a rejected promise nobody awaited is logged (error) and the node keeps running: one handler's
 *   late failure must not end every task the node runs;
 * - an uncaught exception leaves the process in an unknown state: logged (fatal) and on stderr,
 *   then `stop` runs (the node hands its running tasks back, so they run again elsewhere or at
 *   the next start) and the process exits 1.
 */
export function guardUncaught(log: Logger, stop: (reason: string) => void): void {
  process.on('unhandledRejection', (reason) => {
    const err = reason instanceof Error ? reason : new Error(String(reason))
    console.error(`taskmesh: a rejected promise nobody handled (the node keeps running): ${err.message}`)
    log.error({ err }, 'unhandled rejection: the node keeps running')
  })
  let stopping = false
  process.on('uncaughtException', (err) => {
    console.error(`taskmesh: uncaught exception, stopping: ${err.stack ?? err.message}`)
    log.fatal({ err }, 'uncaught exception: stopping, running tasks handed back')
    if (stopping) return
    stopping = true
    stop('uncaught exception')
  })
}

/**
 * SIGHUP when the daemon has nothing to read again (no `--deny-peers`): said, and ignored — its
 * default would end the process, and operators send it to daemons expecting a reload.
 */
export function ignoreHangup(log: Logger): void {
  process.on('SIGHUP', () => {
    say('SIGHUP: nothing to reload (no --deny-peers)')
    log.info('SIGHUP: nothing to reload')
  })
}
