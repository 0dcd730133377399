import { execFileSync } from 'node:child_process'
import { freePort } from '../../src/util/free-port.ts'
import { type Child, startChild } from './processes.ts'

/** redis-server is not installed: the message says how to install it. */
export class RedisMissingError extends Error {
  override readonly name = 'RedisMissingError'
  constructor() {
    super(
      'redis-server is not installed (the BullMQ side of the comparison needs it).\n' +
        'Install it with:  sudo apt-get update && sudo apt-get install -y redis-server\n' +
        '(the comparison starts its own redis-server on a free 127.0.0.1 port; no service needs to run)',
    )
  }
}

/** The path of redis-server, or throws {@link RedisMissingError}. */
export function findRedisServer(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim()
  } catch {
    throw new RedisMissingError()
  }
}

/** A redis-server this benchmark started. */
export interface RedisServer {
  port: number
  child: Child
  stop(): Promise<void>
}

/**
 * Starts redis-server on a free 127.0.0.1 port with persistence off (`--save '' --appendonly no`:
 * the fastest setting BullMQ's users run) and resolves once it accepts connections.
 */
export async function startRedis(log: (line: string) => void): Promise<RedisServer> {
  const bin = findRedisServer()
  const port = await freePort()
  const child = startChild(
    'redis',
    bin,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'yes',
    ],
    log,
  )
  await child.waitForLine((l) => /Ready to accept connections/i.test(l), 20_000)
  return { port, child, stop: () => child.stop(5_000) }
}
