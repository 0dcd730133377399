import '../polyfill.ts'
import { Command } from 'commander'
import { RemoteError } from '../protocol/errors.ts'
import { addDaemonCommand, addDashboardCommand, addDemoCommand, addKeyCommands } from './daemon/commands.ts'
import { EXIT_CODES_HELP, exitCodeOf } from './exit-codes.ts'
import { addSimulateCommand } from './simulate/command.ts'
import { addTaskCommands, addTaskControlCommands } from './tasks/commands.ts'
import { packageVersion } from './version.ts'

// Each command group is declared in its room (daemon/, tasks/, simulate/), added in the order
// `--help` lists them. Each command's module is imported when it runs, so a command loads only
// what it needs (libp2p for daemon and --peer, not for an HTTP call).

// Relative paths and worker threads need a working directory that exists
try {
  process.cwd()
} catch {
  console.error('taskmesh: the current directory no longer exists (deleted?): cd to one that does')
  process.exit(1)
}

const program = new Command()
  .name('taskmesh')
  .description('A peer-to-peer work-stealing task mesh on libp2p')
  .version(packageVersion(), '-V, --version', 'print the taskmesh version')
  .showHelpAfterError('(run with --help for usage)')

addDaemonCommand(program)
addTaskCommands(program)
addDashboardCommand(program)
addTaskControlCommands(program)
addKeyCommands(program)
addSimulateCommand(program)
addDemoCommand(program)

program.addHelpText('after', `\n${EXIT_CODES_HELP}`)

program.parseAsync(helpOfUnknownCommand(process.argv)).catch((err: Error) => {
  const code = err instanceof RemoteError ? ` (${err.code})` : ''
  console.error(`taskmesh: ${err.message}${code}`)
  process.exit(exitCodeOf(err))
})

/**
 * `taskmesh help <name>` where no command has that name: commander printed the whole help and
 * exited 1 without a word why; parsed as `taskmesh <name>`, it says `error: unknown command`.
 */
function helpOfUnknownCommand(argv: string[]): string[] {
  const [word, name] = argv.slice(2)
  if (word !== 'help' || name === undefined || name === 'help' || name.startsWith('-')) return argv
  const known = program.commands.some((c) => c.name() === name || c.aliases().includes(name))
  return known ? argv : [...argv.slice(0, 2), ...argv.slice(3)]
}
