import { vi } from 'vitest'
import { LivenessWatch } from '../../../src/node/peers/liveness-watch.ts'
import { Custodian } from '../../../src/node/recovery/custodian.ts'
import { JournalReplay } from '../../../src/node/recovery/journal-replay.ts'
import type { AskKnown } from '../../../src/node/recovery/successor-check.ts'
import { openResultRecordSync, type ResultRecord } from '../../../src/protocol/records/result-record.ts'
import type { Task } from '../../../src/task/task.ts'
import { makeRecord } from '../../protocol/fixtures.ts'

/**
 * A node's recovery parts as `src/node/assemble.ts` wires them — liveness, the custodian, the
 * journal replay — over fakes of the ledger, the result store and libp2p, for `self`.
 */
export function fakes(
  self: string,
  opts: {
    found?: Set<string>
    journal?: Task[]
    stored?: Set<string>
    failing?: Map<string, number>
    ask?: AskKnown
    /** Tasks this node runs under a lease. */
    leased?: Set<string>
    /** Awaited by each DHT lookup before it answers. */
    gate?: (id: string) => Promise<void>
    /** Ids a peer says it took over while this node was down (asked by the replay). */
    takenElsewhere?: (ids: string[]) => Promise<Set<string>>
  } = {},
) {
  const owned = new Map<string, { task: Task; as?: string; floor?: number }>()
  const ledger = {
    take: vi.fn((task: Task, o: { as?: string; floor?: number } = {}) => {
      if (owned.has(task.id)) return false
      owned.set(task.id, { task, ...o })
      return true
    }),
    has: (id: string) => owned.has(id),
    loseHolder: vi.fn((_peer: string) => ({ lost: 0, poisoned: [] })),
    markDone: vi.fn(),
    journalled: vi.fn(async () => {}),
    journalTasks: vi.fn(async () => opts.journal ?? []),
  }
  const record = (id: string) => makeRecord({ taskId: id }) as ResultRecord
  const results = {
    cached: () => undefined,
    open: (value: Uint8Array, k?: Uint8Array) => openResultRecordSync(value, k),
    supersededBy: () => false,
    accept: vi.fn(),
    refresh: vi.fn(),
    get: vi.fn(async (id: string) => {
      await opts.gate?.(id)
      const failures = opts.failing?.get(id) ?? 0
      if (failures > 0) {
        opts.failing?.set(id, failures - 1)
        throw new Error('query timed out')
      }
      return opts.found?.has(id) ? record(id) : undefined
    }),
    local: vi.fn(async (id: string) => (opts.stored?.has(id) ? record(id) : undefined)),
  }
  const listeners = new Map<string, (evt: unknown) => void>()
  const libp2p = {
    addEventListener: (name: string, fn: (evt: unknown) => void) => listeners.set(name, fn),
    removeEventListener: () => undefined,
  }
  const announce = vi.fn(async (_tasks: Task[]) => {})
  const onOwned = vi.fn()
  // wired as the node wires them (src/node/assemble.ts): liveness judges, the adopter adopts, the replay requeues
  const liveness = new LivenessWatch({
    self,
    libp2p: libp2p as never,
    failureDetectionMs: 1_000,
    beaconIntervalMs: 100,
    onDead: (peer) => ledger.loseHolder(peer),
  })
  const adoption = new Custodian({
    ...{ self, liveness, ledger, results, hold: announce },
    own: (task, how) => ledger.take(task, how),
    thief: { holds: (id: string) => opts.leased?.has(id) === true },
    failureDetectionMs: 1_000,
    onAdopted: (tasks, why) => onOwned(tasks, 'adopted', why),
    ask: opts.ask,
  })
  liveness.watch({ onCheck: (changed) => adoption.onCheck(changed) })
  const replay = new JournalReplay({
    ...{ self, ledger, results },
    own: (task, how) => ledger.take(task, how),
    eachOpen: (tasks, use) => adoption.eachOpen(tasks, use),
    requeue: async (tasks) => {
      onOwned(tasks, 'replayed')
      await announce(tasks)
    },
    waitForPeersMs: 1_000,
    takenElsewhere: opts.takenElsewhere,
  })
  const adopter = {
    async start() {
      liveness.start()
      await replay.start()
    },
    onBeacon(from: string, _msg: never) {
      liveness.heard(from)
      replay.onPeerHeard()
    },
    /** `from` hands this node the specs of its tasks, naming `custodians` (this node among them). */
    onHold: (from: string, tasks: Task[], custodians: string[]) =>
      adoption.handle(from, {
        type: 'hold',
        requestId: 'h',
        custodians: custodians.map((peerId) => ({ peerId, addrs: [] })),
        tasks,
      }),
    /** `from` says these tasks have results now. */
    onDrop: (from: string, ids: string[]) => adoption.handle(from, { type: 'drop', requestId: 'd', ids }),
    /** A fellow custodian `from` asks which of `owner`'s tasks this node knows. */
    onQuery: (from: string, owner: string, ids: string[]) =>
      adoption.handle(from, { type: 'query', requestId: 'q', owner, ids }),
    /** `from` started again: what its earlier life handed this node is void. */
    onForget: (from: string) => adoption.handle(from, { type: 'forget', requestId: 'f' }),
    get remembered() {
      return adoption.guarded
    },
    stop() {
      liveness.stop()
      adoption.stop()
      replay.stop()
    },
  }
  const disconnect = (peer: string) =>
    listeners.get('peer:disconnect')?.({ detail: { toString: () => peer } })
  return { adopter, custodian: adoption, replay, ledger, results, announce, onOwned, owned, disconnect }
}
