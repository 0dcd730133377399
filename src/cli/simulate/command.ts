import { type Command, InvalidArgumentError, Option } from 'commander'
import { SCENARIOS } from '../../../simulations/index.ts'
import {
  DEFAULT_CUSTODIANS,
  DEFAULT_RECORD_COPIES,
  MAX_CUSTODIANS,
  MAX_NODE_SLOTS,
  MAX_RECORD_COPIES,
} from '../../protocol/constants.ts'
import { parseDuration } from '../../simulation/random.ts'
import { ANY, int } from '../flag-errors.ts'

/** `--dht-check`: `all`, `none`, or how many results to read back at most. */
function dhtCheck(value: string): number | 'all' | 'none' {
  if (value === 'all' || value === 'none') return value
  try {
    return int('--dht-check', 1, ANY)(value)
  } catch {
    throw new InvalidArgumentError(`--dht-check must be all, none or a positive integer, got "${value}"`)
  }
}

/** `--duration`: parsed at the flag, so a bad one is refused before any node starts. */
function duration(value: string): string {
  try {
    parseDuration(value)
  } catch (err) {
    throw new InvalidArgumentError(`--duration: ${(err as Error).message}`)
  }
  return value
}

/** Adds `taskmesh simulate`: N real nodes on loopback, and their report. */
export function addSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('run N real nodes in this process on loopback and report makespan, steals and latency')
    .addOption(
      new Option('--scenario <name>', 'a scenario from simulations/index.ts')
        .choices(Object.keys(SCENARIOS))
        .default('skewed'),
    )
    .option('--nodes <n>', "number of nodes (default: the scenario's)", int('--nodes', 1, 500))
    .option('--slots <n>', "slots per node (default: the scenario's)", int('--slots', 1, MAX_NODE_SLOTS))
    .option('--tasks <n>', "number of sleep tasks (default: the scenario's)", int('--tasks', 1, 1_000_000))
    .option(
      '--duration <dist>',
      "task durations in ms: fixed:20 | lognormal:20[:sigma] | uniform:10:30 (default: the scenario's)",
      duration,
    )
    .addOption(
      new Option('--submit <where>', "where tasks enter the mesh (default: the scenario's)").choices([
        'one-node',
        'round-robin',
      ]),
    )
    .addOption(
      new Option(
        '--transport <t>',
        "transport between the nodes (default: the scenario's, else tcp)",
      ).choices(['tcp', 'memory']),
    )
    .addOption(
      new Option(
        '--layout <l>',
        "cores: a thread per core, the nodes dealt out among their event loops; threads: each node in a thread of its own (its own event loop, as on its own machine); shared-loop: all nodes in one event loop (default: the scenario's; shared-loop with --transport memory)",
      ).choices(['cores', 'threads', 'shared-loop']),
    )
    .option(
      '--warm-up <n>',
      "short sleeps (the workload's first durations cut to 5 ms) run through the mesh before anything is measured (default: the scenario's, in proportion to --tasks; else 0)",
      int('--warm-up', 0, 1_000_000),
    )
    .option('--seed <n>', "workload seed (default: the scenario's, else 1)", int('--seed', 0, 2 ** 32 - 1))
    .option(
      '--degree <n>',
      'connections each node dials into the mesh: a ring plus random chords (a mesh of n+1 or fewer is complete) (default: 8)',
      int('--degree', 2, 32),
    )
    .option(
      '--record-copies <n>',
      `peers each node copies its result records to, closest to each key (default: ${DEFAULT_RECORD_COPIES}); 0 shows what the copies cost`,
      int('--record-copies', 0, MAX_RECORD_COPIES),
    )
    .option(
      '--custodians <n>',
      `peers each node hands the tasks it owns to (default: ${DEFAULT_CUSTODIANS}); 0 shows what custody costs`,
      int('--custodians', 0, MAX_CUSTODIANS),
    )
    .option(
      '--dht-check <n>',
      'results read back from the DHT at another node once the run ends: all, none, or at most n spread evenly over the tasks (default: 1000)',
      dhtCheck,
    )
    .option(
      '--report <dir>',
      'also write <dir>/report.html: the figures and SVG plots (runs per node, queues, steals, throughput)',
    )
    .option('--json', 'print the report as JSON', false)
    .addHelpText(
      'after',
      '\nProgress goes to stderr (a bar on a terminal). Exit code 1 when a result is missing.',
    )
    .action(async (flags) => (await import('./simulate.ts')).runSimulate(flags))
}
