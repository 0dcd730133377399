import { type Command, Option } from 'commander'
import { MAX_TIMER_MS } from '../../executor/inline-runner.ts'
import { LOG_LEVEL_ENV, LOG_LEVELS } from '../../log/levels.ts'
import {
  DEFAULT_CUSTODIANS,
  DEFAULT_RECORD_COPIES,
  MAX_CUSTODIANS,
  MAX_MEMORY_MB,
  MAX_NODE_SLOTS,
  MAX_QUEUED_TASKS,
  MAX_RECORD_COPIES,
} from '../../protocol/constants.ts'
import { DEFAULT_DATA_DIR, DEFAULT_LISTEN } from '../defaults.ts'
import { ANY, collect, decimal, int, labelList, multiaddrList } from '../flag-errors.ts'
import { targetOptions } from '../tasks/commands.ts'

/** Adds `taskmesh daemon`: run a mesh node. */
export function addDaemonCommand(program: Command): void {
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
      "holds, across restarts, the peer identity (peer.key), the mesh's key (swarm.key, unless --swarm-key or --open), the accepted tasks (tasks.journal) and the DHT records (datastore/, record-values.log); api.json while running",
      DEFAULT_DATA_DIR,
    )
    .option('--slots <n>', 'concurrent task slots (default: CPU count)', int('--slots', 1, MAX_NODE_SLOTS))
    .addOption(
      new Option('--handlers <module>', 'ES module of task handlers, beside the built-ins (repeatable)')
        .argParser(collect)
        .default([], 'none'),
    )
    .option('--labels <list>', 'comma-separated labels this node offers, e.g. gpu', labelList('--labels'))
    .option(
      '--memory-mb <n>',
      'memory offered to tasks (default: total memory)',
      int('--memory-mb', 0, MAX_MEMORY_MB),
    )
    // the --http-* flags shape an API that --no-http does not serve: refused beside it
    .addOption(
      new Option('--http-port <port>', 'local HTTP API port on 127.0.0.1 (0 = any free port)')
        .argParser(int('--http-port', 0, 65535))
        .default(0)
        .conflicts('http'),
    )
    .option('--no-http', 'do not serve the local HTTP API (reach the node with --peer)')
    .addOption(
      new Option(
        '--http-host <address>',
        'address the HTTP API listens on (default: 127.0.0.1); one beyond loopback serves the network and needs --http-token-file',
      ).conflicts('http'),
    )
    .addOption(
      new Option(
        '--http-token-file <file>',
        'file holding the HTTP API token (at least 32 characters; default: a random token per start, in api.json)',
      ).conflicts('http'),
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
      decimal('--aging-theta', { below: 1 }),
    )
    .option(
      '--aging-tau <ms>',
      'aging: time window τ, about the longest wait before a task outranks fresh top-priority work (default: 3000)',
      int('--aging-tau', 1, ANY, ' ms'),
    )
    .option(
      '--aging-steepness <per-second>',
      'aging: slope scale s, above 0 (default: 2)',
      decimal('--aging-steepness', { above: 0 }),
    )
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
      int('--unschedulable-after', 1, MAX_TIMER_MS, ' (ms)'),
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
      int('--drain-timeout', 0, MAX_TIMER_MS, ' (ms)'),
    )
    .option(
      '--record-copies <n>',
      `peers each result record made here is copied to, closest to its key, besides this node's copy: how many nodes a record outlives at once; 0 keeps records here only (default: ${DEFAULT_RECORD_COPIES})`,
      int('--record-copies', 0, MAX_RECORD_COPIES),
    )
    .option(
      '--custodians <n>',
      `peers this node hands the tasks it owns to, closest to its id, so one adopts them if it dies; 0 keeps them in its journal only (default: ${DEFAULT_CUSTODIANS})`,
      int('--custodians', 0, MAX_CUSTODIANS),
    )
    .option(
      '--max-connections <n>',
      'connections this node keeps: past 10 s it closes those beyond, oldest and least used first, never one to a peer it has work with; newcomers are let in up to a quarter more (at least 8) (default: 32)',
      int('--max-connections', 1, 100_000),
    )
    .option(
      '--lease-ttl <ms>',
      'lease time-to-live granted to thieves; a thief silent this long loses the task (default: 10000)',
      int('--lease-ttl', 1, MAX_TIMER_MS, ' (ms)'),
    )
    .option(
      '--beacon-interval <ms>',
      'interval of capacity beacons, also the heartbeat peers judge liveness by (default: 1000)',
      int('--beacon-interval', 1, MAX_TIMER_MS, ' (ms)'),
    )
    .option(
      '--failure-detection <ms>',
      'a peer silent this long is declared dead: its leases are taken back, its tasks adopted (default: 3 beacon intervals + 1000)',
      int('--failure-detection', 1, MAX_TIMER_MS, ' (ms)'),
    )
    .option(
      '--max-executor-losses <n>',
      'a task whose executors were lost this many times ends as failed, "poison" (default: 3)',
      int('--max-executor-losses', 1, ANY),
    )
    .option(
      '--max-queue-length <n>',
      'tasks queued or waiting here at most; a submission beyond it is refused with ERR_QUEUE_FULL (default: 100000)',
      int('--max-queue-length', 1, MAX_QUEUED_TASKS),
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
      '--deny-peers <file>',
      'peers this node never connects to, either way (one peer id per line, # comments); read again on SIGHUP',
    )
    .option(
      '--request-timeout <ms>',
      'an inbound steal or submit stream must send its whole request within this long, else it is closed (default: 10000)',
      int('--request-timeout', 1, MAX_TIMER_MS, ' (ms)'),
    )
    .option(
      '--max-inbound-bytes <n>',
      'bytes of unfinished inbound requests held at once; beyond it the streams holding the most are closed (default: 67108864)',
      int('--max-inbound-bytes', 1, ANY),
    )
    .action(async (flags) => (await import('./daemon.ts')).runDaemon(flags))
}

/** Adds `taskmesh dashboard`: the link that opens a running daemon's dashboard. */
export function addDashboardCommand(program: Command): void {
  targetOptions(
    program
      .command('dashboard')
      .description(
        "print the link that opens the daemon's dashboard in a browser, logged in (a one-time link carrying the API token)",
      ),
    { peer: false },
  ).action(async (flags) => (await import('./dashboard-link.ts')).runDashboardLink(flags))
}

/** Adds `taskmesh identity` and `taskmesh swarm-key`: the key files of clients and meshes. */
export function addKeyCommands(program: Command): void {
  program
    .command('identity <file>')
    .description(
      'print the peer id of the key in <file>, creating the key if the file does not exist: ' +
        "give it to `taskmesh submit --peer … --identity <file>`, and its peer id to a daemon's --allow-submitter",
    )
    .action(async (file: string) => {
      const { loadOrCreateKeyFile } = await import('../../node/wire/identity.ts')
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
      const { ensureSwarmKeyFile } = await import('../../node/wire/swarm-key.ts')
      const { created } = await ensureSwarmKeyFile(file)
      console.log(created ? `created ${file}` : `kept ${file} (a valid swarm key)`)
    })
}

/** Adds `taskmesh demo`: a local mesh running a mix of real tasks. */
export function addDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('start a local mesh, run a mix of real tasks, and read every result back from the DHT')
    .option('--nodes <n>', 'number of nodes (1 to 32)', int('--nodes', 1, 32), 3)
    .option('--tasks <n>', 'number of tasks (1 to 10000)', int('--tasks', 1, 10_000), 24)
    .action(async (flags) => (await import('./demo.ts')).runDemo(flags))
}
