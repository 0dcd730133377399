import { type Command, Option } from 'commander'
import { MAX_TIMER_MS } from '../../executor/inline-runner.ts'
import { TASK_EVENTS } from '../../node/watch/event-states.ts'
import { LISTED_STATES } from '../../node/watch/task-list.ts'
import { MAX_ATTEMPTS, MAX_PRIORITY, MAX_TIMEOUT_MS, MIN_PRIORITY } from '../../task/limits.ts'
import { DEFAULT_DATA_DIR } from '../defaults.ts'
import { EXIT_CODES_HELP } from '../exit-codes.ts'
import { int, labelList, multiaddrFlag } from '../flag-errors.ts'

/**
 * Adds the flags that name the node a command talks to: `--api`, `--peer` or a local `--data-dir`.
 * A command that reads the HTTP API only (`peer: false`) takes no `--swarm-key` or `--identity`,
 * and its `--peer` is hidden: the command refuses it, saying why.
 */
export function targetOptions(cmd: Command, opts: { peer?: boolean } = {}): Command {
  const peer = opts.peer !== false
  cmd
    .addOption(
      new Option(
        '--api <url>',
        'the daemon HTTP API, e.g. http://127.0.0.1:8080 (default: found through --data-dir)',
      ).conflicts('peer'),
    )
    .addOption(
      // the environment's token is read where --api is used (see `apiTokenOf`): declared through
      // commander's `.env`, it counted as given, and every --peer command refused it
      new Option(
        '--api-token <token>',
        "with --api: the API's token (the `token` of the daemon's api.json; default: $TASKMESH_API_TOKEN)",
      ).conflicts('peer'),
    )
  const peerFlag = new Option(
    '--peer <multiaddr>',
    'dial this peer as a light client (a multiaddr with /p2p/<peer id>)',
  ).argParser(multiaddrFlag('--peer', { peerId: true }))
  cmd.addOption(peer ? peerFlag : peerFlag.hideHelp())
  if (peer) {
    cmd
      .option('--swarm-key <file>', 'with --peer: the private mesh key file')
      .option(
        '--identity <file>',
        "with --peer: this client's key file, created if missing (its peer id is what --allow-submitter names; see taskmesh identity)",
      )
  }
  return cmd.option(
    '--data-dir <dir>',
    'data dir of a running local daemon; its api.json gives the HTTP API',
    DEFAULT_DATA_DIR,
  )
}

/** Adds `taskmesh submit`, `result`, `status` and `watch`: the commands that submit and read. */
export function addTaskCommands(program: Command): void {
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
      .option(
        '--labels <list>',
        'comma-separated labels the executing node must offer',
        labelList('--labels'),
      )
      .option('--slots <n>', 'slots the task occupies (default: 1)', int('--slots', 1, 1024))
      .option('--wait', 'wait for and print each result', false)
      .option(
        '--no-progress',
        'with --wait: no progress on stderr (a bar on a terminal, a line a second otherwise, when waiting for several tasks)',
      )
      .option(
        '--wait-ms <ms>',
        'how long --wait waits for all results (default: 600000)',
        int('--wait-ms', 1, MAX_TIMER_MS, ' (ms)'),
      )
      .addHelpText(
        'after',
        `\nWith --wait, a result that did not land in time prints {"taskId":…,"status":"pending"}.\n${EXIT_CODES_HELP}`,
      ),
  ).action(async (type, flags) => (await import('./submit.ts')).runSubmit(type, flags))

  targetOptions(
    program
      .command('result <id>')
      .description('print the result record of a task as JSON')
      .option('--wait', 'wait until the result exists', false)
      .option(
        '--wait-ms <ms>',
        'how long --wait waits (default: 600000)',
        int('--wait-ms', 1, MAX_TIMER_MS, ' (ms)'),
      )
      .addHelpText('after', `\n${EXIT_CODES_HELP}`),
  ).action(async (id, flags) => (await import('./result.ts')).runResult(id, flags))

  targetOptions(
    program
      .command('status')
      .description("print a node's peers, capacity, queues and counters as JSON")
      .option(
        '--mesh',
        'print every node the daemon hears of (itself, its neighbours, loaded peers their beacons name) with capacity and load, as a table',
        false,
      )
      // plain status prints JSON already: --json is accepted there, and changes nothing
      .option('--json', 'print JSON: with --mesh, the mesh view (status prints JSON without it)', false),
  ).action(async (flags) =>
    flags.mesh
      ? (await import('./mesh-status.ts')).runMeshStatus(flags)
      : (await import('./result.ts')).runStatus(flags),
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
        `only events that put a task in one of these states (comma-separated): ${LISTED_STATES.join(', ')}`,
      )
      .option('--event <list>', `only these events (comma-separated): ${Object.keys(TASK_EVENTS).join(', ')}`)
      .option('--json', 'print each event as JSON', false),
    { peer: false },
  ).action(async (flags) => (await import('./watch.ts')).runWatch(flags))
}

/** Adds `taskmesh cancel` and `story`: the commands that act on one task. */
export function addTaskControlCommands(program: Command): void {
  targetOptions(
    program
      .command('cancel <id>')
      .description(
        'cancel a task: its owner removes it, aborts its run or revokes its lease, and ends it as failed "cancelled"',
      ),
  ).action(async (id, flags) => (await import('./result.ts')).runCancel(id, flags))

  targetOptions(
    program
      .command('story <id>')
      .description(
        "print the node's decisions about a task (accepted, granted, stolen, started…), one per line",
      ),
  ).action(async (id, flags) => (await import('./result.ts')).runStory(id, flags))
}
