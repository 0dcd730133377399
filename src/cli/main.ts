import '../polyfill.ts'
import { Command, InvalidArgumentError, Option } from 'commander'
import { SCENARIOS } from '../../simulations/index.ts'
import { LOG_LEVEL_ENV, LOG_LEVELS } from '../log/levels.ts'
import { MAX_NODE_SLOTS } from '../protocol/constants.ts'
import { RemoteError } from '../protocol/errors.ts'
import { MAX_ATTEMPTS, MAX_PRIORITY, MAX_TIMEOUT_MS, MIN_PRIORITY } from '../task/limits.ts'
import { NAME_PATTERN } from '../task/spec.ts'
import { DEFAULT_DATA_DIR, DEFAULT_LISTEN } from './defaults.ts'
import { EXIT_CODES_HELP, exitCodeOf } from './exit-codes.ts'
import { multiaddrFlag, multiaddrList } from './flag-errors.ts'
import { packageVersion } from './version.ts'

// Each command's module is imported when it runs, so a command loads only what it needs
// (libp2p for daemon and --peer, not for an HTTP call).

/** Parses an integer option within `[min, max]`, naming the option and the range when it is not. */
const int =
  (name: string, min: number, max: number, unit = '') =>
  (value: string): number => {
    const n = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range =
        max === Number.MAX_SAFE_INTEGER
          ? min === 1
            ? 'a positive integer'
            : `an integer >= ${min}`
          : `an integer from ${min} to ${max}`
      throw new InvalidArgumentError(`${name} must be ${range}${unit}, got "${value}"`)
    }
    return n
  }
const ANY = Number.MAX_SAFE_INTEGER

/** Parses a decimal option (a finite number), naming the option when it is not one. */
const decimal =
  (name: string) =>
  (value: string): number => {
    const n = /^\s*-?(\d+\.?\d*|\.\d+)\s*$/.test(value) ? Number(value) : Number.NaN
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${value}"`)
    return n
  }

/** Parses a comma-separated list of labels, each checked against the name pattern. */
const labelList =
  (name: string) =>
  (value: string): string[] => {
    const labels = value
      .split(',')
      .map((l) => l.trim())
      .filter((l) => l.length > 0)
    for (const l of labels) {
      if (!NAME_PATTERN.test(l)) {
        throw new InvalidArgumentError(`${name}: label "${l}" must match ${NAME_PATTERN} (lowercase)`)
      }
    }
    return labels
  }
const collect = (value: string, previous: string[]) => [...previous, value]

function targetOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--api <url>',
        'the daemon HTTP API, e.g. http://127.0.0.1:8080 (default: found through --data-dir)',
      ).conflicts('peer'),
    )
    .addOption(
      new Option('--api-token <token>', "with --api: the API's token (the `token` of the daemon's api.json)")
        .env('TASKMESH_API_TOKEN')
        .conflicts('peer'),
    )
    .option(
      '--peer <multiaddr>',
      'dial this peer as a light client (a multiaddr with /p2p/<peer id>)',
      multiaddrFlag('--peer', { peerId: true }),
    )
    .option('--swarm-key <file>', 'with --peer: the private mesh key file')
    .option(
      '--identity <file>',
      "with --peer: this client's key file, created if missing (its peer id is what --allow-submitter names; see taskmesh identity)",
    )
    .option(
      '--data-dir <dir>',
      'data dir of a running local daemon; its api.json gives the HTTP API',
      DEFAULT_DATA_DIR,
    )
}

const program = new Command()
  .name('taskmesh')
  .description('A peer-to-peer work-stealing task mesh on libp2p')
  .version(packageVersion(), '-V, --version', 'print the taskmesh version')
  .showHelpAfterError('(run with --help for usage)')

program
  .command('daemon')
  .description(
    'run a mesh node: prints "taskmesh node <peer id>", "listening <multiaddr>" lines, "http api <url>", ' +
      '"ready", then "peer <id> joined|left"; SIGINT/SIGTERM stop it cleanly ("stopped", exit 0). ' +
      'Its structured log (pino: JSON lines, readable on a terminal) goes to stderr',
  )
  .addOption(
    new Option('--listen <multiaddr>', 'listen address (repeatable)')
      .argParser(multiaddrList('--listen', { peerId: false }))
      .default([], DEFAULT_LISTEN),
  )
  .addOption(
    new Option('--bootstrap <multiaddr>', 'peer to join through, with /p2p/<peer id> (repeatable)')
      .argParser(multiaddrList('--bootstrap', { peerId: true }))
      .default([], 'none'),
  )
  .option(
    '--data-dir <dir>',
    'keeps the peer identity (peer.key) and DHT records across restarts; api.json while running',
    DEFAULT_DATA_DIR,
  )
  .option('--slots <n>', 'concurrent task slots (default: CPU count)', int('--slots', 1, MAX_NODE_SLOTS))
  .addOption(
    new Option('--handlers <module>', 'ES module of task handlers, beside the built-ins (repeatable)')
      .argParser(collect)
      .default([], 'none'),
  )
  .option('--labels <list>', 'comma-separated labels this node offers, e.g. gpu', labelList('--labels'))
  .option('--memory-mb <n>', 'memory offered to tasks (default: total memory)', int('--memory-mb', 0, ANY))
  .option(
    '--http-port <port>',
    'local HTTP API port on 127.0.0.1 (0 = any free port)',
    int('--http-port', 0, 65535),
    0,
  )
  .option('--no-http', 'do not serve the local HTTP API (reach the node with --peer)')
  .option(
    '--http-host <address>',
    'address the HTTP API listens on (default: 127.0.0.1); one beyond loopback serves the network and needs --http-token-file',
  )
  .option(
    '--http-token-file <file>',
    'file holding the HTTP API token (at least 32 characters; default: a random token per start, in api.json)',
  )
  .addOption(
    new Option(
      '--log-level <level>',
      `log level of the structured log on stderr (default: $${LOG_LEVEL_ENV}, else info)`,
    ).choices(LOG_LEVELS),
  )
  .addOption(
    new Option(
      '--log-format <format>',
      'log lines: JSON, readable, or auto (readable on a terminal, else JSON)',
    )
      .choices(['auto', 'json', 'pretty'])
      .default('auto'),
  )
  .option(
    '--swarm-key <file>',
    "the mesh's key file (libp2p pre-shared key): only nodes holding it connect (default: <data-dir>/swarm.key, made on the first start)",
  )
  .addOption(
    new Option(
      '--open',
      'run an open mesh on purpose: no swarm key, any peer that reaches this node may join, submit, run tasks and sign results',
    )
      .default(false)
      .conflicts('swarmKey'),
  )
  .option('--mdns', 'discover peers on the LAN', false)
  .addOption(
    new Option('--queue-policy <policy>', 'queue order: aging priority, or strict priority')
      .choices(['aging', 'strict'])
      .default('aging'),
  )
  .option(
    '--aging-theta <x>',
    'aging: saturation level θ, below every priority weight (< 1) (default: 0.25)',
    decimal('--aging-theta'),
  )
  .option(
    '--aging-tau <ms>',
    'aging: time window τ, about the longest wait before a task outranks fresh top-priority work (default: 3000)',
    int('--aging-tau', 1, ANY, ' ms'),
  )
  .option('--aging-steepness <per-second>', 'aging: slope scale s (default: 2)', decimal('--aging-steepness'))
  .addOption(
    new Option(
      '--steal-order <order>',
      'which queued tasks a thief is handed first: what this node would run next, or what it would reach last',
    )
      .choices(['most-urgent', 'least-urgent'])
      .default('most-urgent'),
  )
  .option(
    '--unschedulable-after <ms>',
    'report a queued task no live node can run as unschedulable after this long (default: 10000)',
    int('--unschedulable-after', 1, ANY, ' (ms)'),
  )
  .addOption(
    new Option(
      '--durability <mode>',
      'when an accepted task counts as journalled: sync (on disk, fsync shared by concurrent submissions) or os (handed to the kernel; survives a daemon crash, not a machine crash) (default: sync)',
    ).choices(['sync', 'os']),
  )
  .option(
    '--drain-timeout <ms>',
    'on SIGTERM/SIGINT, wait up to this long for running tasks to finish before handing them back; a second signal hands them back at once (default: 30000)',
    int('--drain-timeout', 0, ANY, ' (ms)'),
  )
  .option(
    '--lease-ttl <ms>',
    'lease time-to-live granted to thieves; a thief silent this long loses the task (default: 10000)',
    int('--lease-ttl', 1, ANY, ' (ms)'),
  )
  .option(
    '--beacon-interval <ms>',
    'interval of capacity beacons, also the heartbeat peers judge liveness by (default: 1000)',
    int('--beacon-interval', 1, ANY, ' (ms)'),
  )
  .option(
    '--failure-detection <ms>',
    'a peer silent this long is declared dead: its leases are taken back, its tasks adopted (default: 3 beacon intervals + 1000)',
    int('--failure-detection', 1, ANY, ' (ms)'),
  )
  .option(
    '--max-executor-losses <n>',
    'a task whose executors were lost this many times ends as failed, "poison" (default: 3)',
    int('--max-executor-losses', 1, ANY),
  )
  .option(
    '--max-queue-length <n>',
    'tasks queued or waiting here at most; a submission beyond it is refused with ERR_QUEUE_FULL (default: 100000)',
    int('--max-queue-length', 1, ANY),
  )
  .addOption(
    new Option(
      '--allow-submitter <peerId>',
      'every peer whose tasks this node takes: the clients that may submit over the submit protocol, and the nodes it steals from and adopts from (repeatable; local HTTP and CLI submissions are always allowed)',
    )
      .argParser(collect)
      .default([], 'any peer'),
  )
  .option('--allow-submitters <file>', 'more allowed submitters: one peer id per line, # comments')
  .option(
    '--request-timeout <ms>',
    'an inbound steal or submit stream must send its whole request within this long, else it is closed (default: 10000)',
    int('--request-timeout', 1, ANY, ' (ms)'),
  )
  .option(
    '--max-inbound-bytes <n>',
    'bytes of unfinished inbound requests held at once; beyond it the streams holding the most are closed (default: 67108864)',
    int('--max-inbound-bytes', 1, ANY),
  )
  .action(async (flags) => (await import('./daemon/daemon.ts')).runDaemon(flags))

targetOptions(
  program
    .command('submit [type]')
    .description(
      'submit a task of handler <type> (or a file of tasks) and print one task id per line; ' +
        'with --wait, then one result record per line as JSON',
    )
    .option('--input <json>', 'task input as JSON (default: null)')
    .option(
      '--file <path>',
      'JSON array of task specs, or { "tasks": [...] }; items may carry "key" and name keys or task ids in "dependsOn" (a graph)',
    )
    .option(
      '--priority <n>',
      'integer priority, higher first (default: 0)',
      int('--priority', MIN_PRIORITY, MAX_PRIORITY),
    )
    .option(
      '--timeout <ms>',
      'timeout of one attempt (default: 300000)',
      int('--timeout', 1, MAX_TIMEOUT_MS, ' (ms)'),
    )
    .option('--attempts <n>', 'maximum attempts (default: 3)', int('--attempts', 1, MAX_ATTEMPTS))
    .option('--labels <list>', 'comma-separated labels the executing node must offer', labelList('--labels'))
    .option('--slots <n>', 'slots the task occupies (default: 1)', int('--slots', 1, 1024))
    .option('--wait', 'wait for and print each result', false)
    .option(
      '--no-progress',
      'with --wait: no progress on stderr (a bar on a terminal, a line a second otherwise, when waiting for several tasks)',
    )
    .option(
      '--wait-ms <ms>',
      'how long --wait waits for all results',
      int('--wait-ms', 1, ANY, ' (ms)'),
      600_000,
    )
    .addHelpText(
      'after',
      `\nWith --wait, a result that did not land in time prints {"taskId":…,"status":"pending"}.\n${EXIT_CODES_HELP}`,
    ),
).action(async (type, flags) => (await import('./tasks/submit.ts')).runSubmit(type, flags))

targetOptions(
  program
    .command('result <id>')
    .description('print the result record of a task as JSON')
    .option('--wait', 'wait until the result exists', false)
    .option('--wait-ms <ms>', 'how long --wait waits', int('--wait-ms', 1, ANY, ' (ms)'), 600_000)
    .addHelpText('after', `\n${EXIT_CODES_HELP}`),
).action(async (id, flags) => (await import('./tasks/result.ts')).runResult(id, flags))

targetOptions(
  program
    .command('status')
    .description("print a node's peers, capacity, queues and counters as JSON")
    .option(
      '--mesh',
      'print every node the daemon hears of (itself, its neighbours, loaded peers their beacons name) with capacity and load, as a table',
      false,
    )
    .option('--json', 'with --mesh: print the mesh view as JSON', false),
).action(async (flags) =>
  flags.mesh
    ? (await import('./tasks/mesh-status.ts')).runMeshStatus(flags)
    : (await import('./tasks/result.ts')).runStatus(flags),
)

targetOptions(
  program
    .command('watch')
    .description(
      "print the daemon's task events as they happen, one line each: time (UTC), task id, event, state, facts (its HTTP API's GET /events; Ctrl-C ends it)",
    )
    .option('--ids <list>', 'only the events of these task ids (comma-separated)')
    .option(
      '--state <list>',
      'only events that put a task in one of these states: waiting, queued, leased, running, unschedulable, succeeded, failed',
    )
    .option('--event <list>', 'only these events (comma-separated), e.g. started,finished')
    .option('--json', 'print each event as JSON', false),
).action(async (flags) => (await import('./tasks/watch.ts')).runWatch(flags))

targetOptions(
  program
    .command('dashboard')
    .description(
      "print the link that opens the daemon's dashboard in a browser, logged in (a one-time link carrying the API token)",
    ),
).action(async (flags) => (await import('./daemon/dashboard-link.ts')).runDashboardLink(flags))

targetOptions(
  program
    .command('cancel <id>')
    .description(
      'cancel a task: its owner removes it, aborts its run or revokes its lease, and ends it as failed "cancelled"',
    ),
).action(async (id, flags) => (await import('./tasks/result.ts')).runCancel(id, flags))

targetOptions(
  program
    .command('story <id>')
    .description(
      "print the node's decisions about a task (accepted, granted, stolen, started…), one per line",
    ),
).action(async (id, flags) => (await import('./tasks/result.ts')).runStory(id, flags))

program
  .command('identity <file>')
  .description(
    'print the peer id of the key in <file>, creating the key if the file does not exist: ' +
      "give it to `taskmesh submit --peer … --identity <file>`, and its peer id to a daemon's --allow-submitter",
  )
  .action(async (file: string) => {
    const { loadOrCreateKeyFile } = await import('../node/wire/identity.ts')
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
    console.log(peerIdFromPrivateKey(await loadOrCreateKeyFile(file)).toString())
  })

program
  .command('swarm-key <file>')
  .description(
    'write a new private-mesh key (libp2p pre-shared key) to <file> if it does not exist, readable by its owner only; ' +
      'an existing file is checked and kept. Give every node of the mesh the same file with --swarm-key',
  )
  .action(async (file: string) => {
    const { ensureSwarmKeyFile } = await import('../node/wire/swarm-key.ts')
    const { created } = await ensureSwarmKeyFile(file)
    console.log(created ? `created ${file}` : `kept ${file} (a valid swarm key)`)
  })

program
  .command('simulate')
  .description('run N real nodes in this process on loopback and report makespan, steals and latency')
  .addOption(
    new Option('--scenario <name>', 'a scenario from simulations/index.ts')
      .choices(Object.keys(SCENARIOS))
      .default('skewed'),
  )
  .option('--nodes <n>', "number of nodes (default: the scenario's)", int('--nodes', 1, ANY))
  .option('--slots <n>', "slots per node (default: the scenario's)", int('--slots', 1, MAX_NODE_SLOTS))
  .option('--tasks <n>', "number of sleep tasks (default: the scenario's)", int('--tasks', 1, ANY))
  .option(
    '--duration <dist>',
    "task durations in ms: fixed:20 | lognormal:20[:sigma] | uniform:10:30 (default: the scenario's)",
  )
  .addOption(
    new Option('--submit <where>', "where tasks enter the mesh (default: the scenario's)").choices([
      'one-node',
      'round-robin',
    ]),
  )
  .addOption(
    new Option('--transport <t>', "transport between the nodes (default: the scenario's, else tcp)").choices([
      'tcp',
      'memory',
    ]),
  )
  .addOption(
    new Option(
      '--layout <l>',
      'threads: each node in a thread of its own (its own event loop, as on its own machine); shared-loop: all nodes in one event loop (default: shared-loop)',
    ).choices(['threads', 'shared-loop']),
  )
  .option('--seed <n>', "workload seed (default: the scenario's, else 1)", int('--seed', 0, ANY))
  .option(
    '--degree <n>',
    'connections each node dials into the mesh: a ring plus random chords (a mesh of n+1 or fewer is complete) (default: 8)',
    int('--degree', 2, 32),
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
  .action(async (flags) => (await import('./simulate/simulate.ts')).runSimulate(flags))

program
  .command('demo')
  .description('start a local mesh, run a mix of real tasks, and read every result back from the DHT')
  .option('--nodes <n>', 'number of nodes', int('--nodes', 1, ANY), 3)
  .option('--tasks <n>', 'number of tasks', int('--tasks', 1, ANY), 24)
  .action(async (flags) => (await import('./daemon/demo.ts')).runDemo(flags))

program.addHelpText('after', `\n${EXIT_CODES_HELP}`)

program.parseAsync(process.argv).catch((err: Error) => {
  const code = err instanceof RemoteError ? ` (${err.code})` : ''
  console.error(`taskmesh: ${err.message}${code}`)
  process.exit(exitCodeOf(err))
})
