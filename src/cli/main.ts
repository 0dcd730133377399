import '../polyfill.ts'
import { Command, InvalidArgumentError, Option } from 'commander'
import { runDaemon } from './daemon.ts'
import { runDemo } from './demo.ts'
import { runResult, runStatus } from './result.ts'
import { runSimulate } from './simulate.ts'
import { runSubmit } from './submit.ts'
import { DEFAULT_DATA_DIR } from './target.ts'

const int = (name: string) => (value: string) => {
  const n = Number(value)
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer, got "${value}"`)
  return n
}
const collect = (value: string, previous: string[]) => [...previous, value]

function targetOptions(cmd: Command): Command {
  return cmd
    .option('--api <url>', 'the daemon HTTP API (default: found through --data-dir)')
    .option('--peer <multiaddr>', 'dial this peer over the submit protocol as a light client')
    .option('--data-dir <dir>', 'data dir of a local daemon', DEFAULT_DATA_DIR)
}

const program = new Command()
  .name('taskmesh')
  .description('A peer-to-peer work-stealing task mesh on libp2p')
  .showHelpAfterError()

program
  .command('daemon')
  .description('run a mesh node')
  .option('--listen <multiaddr>', 'listen address (repeatable)', collect, [])
  .option('--bootstrap <multiaddr>', 'peer to join through (repeatable)', collect, [])
  .option('--data-dir <dir>', 'identity, DHT records and journal', DEFAULT_DATA_DIR)
  .option('--slots <n>', 'concurrent task slots (default: CPU count)', int('--slots'))
  .option('--handlers <module>', 'ES module of task handlers (repeatable)', collect, [])
  .option('--labels <list>', 'comma-separated labels this node offers, e.g. gpu')
  .option('--memory-mb <n>', 'memory offered to tasks', int('--memory-mb'))
  .option('--http-port <port>', 'local HTTP API port (0 = any free port)', int('--http-port'), 0)
  .option('--no-http', 'do not serve the local HTTP API')
  .option('--swarm-key <file>', 'private mesh: libp2p pre-shared key file')
  .option('--mdns', 'discover peers on the LAN', false)
  .addOption(
    new Option('--queue-policy <policy>', 'queue order').choices(['aging', 'strict']).default('aging'),
  )
  .action((flags) => runDaemon(flags))

targetOptions(
  program
    .command('submit [type]')
    .description('submit a task (or a file of tasks) and print the task ids')
    .option('--input <json>', 'task input as JSON')
    .option('--file <path>', 'JSON array of task specs (or { "tasks": [...] })')
    .option('--priority <n>', 'integer priority, higher first', int('--priority'))
    .option('--timeout <ms>', 'timeout per attempt', int('--timeout'))
    .option('--attempts <n>', 'maximum attempts', int('--attempts'))
    .option('--labels <list>', 'labels the executing node must offer')
    .option('--slots <n>', 'slots the task occupies', int('--slots'))
    .option('--wait', 'wait for and print each result', false)
    .option('--wait-ms <ms>', 'how long --wait waits', int('--wait-ms'), 600_000),
).action((type, flags) => runSubmit(type, flags))

targetOptions(
  program
    .command('result <id>')
    .description('print the result record of a task')
    .option('--wait', 'wait until the result exists', false)
    .option('--wait-ms <ms>', 'how long --wait waits', int('--wait-ms'), 600_000),
).action((id, flags) => runResult(id, flags))

targetOptions(program.command('status').description("print a node's peers, capacity and queues")).action(
  (flags) => runStatus(flags),
)

program
  .command('simulate')
  .description('run N real nodes in this process on loopback and report makespan, steals and latency')
  .option('--scenario <name>', 'a scenario from simulations/', 'skewed')
  .option('--nodes <n>', 'number of nodes', int('--nodes'))
  .option('--slots <n>', 'slots per node', int('--slots'))
  .option('--tasks <n>', 'number of sleep tasks', int('--tasks'))
  .option('--duration <dist>', 'fixed:20 | lognormal:20[:sigma] | uniform:10:30 (ms)')
  .option('--submit <where>', 'one-node | round-robin')
  .option('--transport <t>', 'tcp | memory')
  .option('--seed <n>', 'workload seed', int('--seed'))
  .option('--json', 'print the report as JSON', false)
  .action((flags) => runSimulate(flags))

program
  .command('demo')
  .description('start a local mesh, run a mix of real tasks, and read every result back from the DHT')
  .option('--nodes <n>', 'number of nodes', int('--nodes'), 3)
  .option('--tasks <n>', 'number of tasks', int('--tasks'), 24)
  .action((flags) => runDemo(flags))

program.parseAsync(process.argv).catch((err: Error) => {
  console.error(`taskmesh: ${err.message}`)
  process.exit(1)
})
