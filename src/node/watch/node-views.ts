import type { NodeOffer } from '../../policy/types.ts'
import { monotonicNow } from '../../util/clock.ts'
import type { DependencyGate } from '../owner/dependencies.ts'
import type { OwnerLedger } from '../owner/owner-ledger.ts'
import type { UnschedulableWatch } from '../owner/unschedulable.ts'
import type { PeerView } from '../peers/peer-view.ts'
import type { ResultStore } from '../results/result-store.ts'
import type { LocalQueue } from '../run/local-queue.ts'
import type { TaskRunner } from '../run/task-runner.ts'
import { type MeshView, meshView } from './mesh-view.ts'
import type { SettledLog } from './settled-log.ts'
import { listTasks, type TaskListPage, type TaskListQuery } from './task-list.ts'

/** What {@link nodeTaskList} reads of a node. */
export interface TaskListParts {
  gate: Pick<DependencyGate, 'tasks'>
  ledger: Pick<OwnerLedger, 'ownedTasks'>
  unschedulable: Pick<UnschedulableWatch, 'get'>
  settledLog: Pick<SettledLog, 'list'>
  results: Pick<ResultStore, 'cached'>
}

/** The tasks a node owns and the last ones that ended there (see `listTasks`). */
export function nodeTaskList(p: TaskListParts, query: TaskListQuery): TaskListPage {
  return listTasks(
    {
      waiting: p.gate.tasks(),
      owned: p.ledger.ownedTasks(),
      unschedulable: (id) => p.unschedulable.get(id)?.reasons.join('; '),
      settled: p.settledLog.list(),
      recordOf: (id) => p.results.cached(id),
    },
    query,
  )
}

/** What {@link nodeMeshView} reads of a node. */
export interface MeshViewParts {
  self: string
  offer: NodeOffer
  speed: number
  runner: Pick<TaskRunner, 'runningCount'>
  queue: Pick<LocalQueue, 'stealableCount' | 'queuedWorkMs'>
  peers: Pick<PeerView, 'known'>
}

/** The node's own load (as its beacons tell it) beside every peer it hears of. */
export function nodeMeshView(p: MeshViewParts, now = monotonicNow()): MeshView {
  const self = {
    ...{ peerId: p.self, slots: p.offer.slots, running: p.runner.runningCount, speed: p.speed },
    ...{ queued: p.queue.stealableCount, queuedWorkMs: p.queue.queuedWorkMs(true) },
    ...{ types: p.offer.types, labels: p.offer.labels, memoryMb: p.offer.memoryMb, updatedAt: now },
  }
  // ages on the clock of the peers' `updatedAt`; the snapshot dated on the wall clock
  return { ...meshView(self, p.peers.known(), now), at: Date.now() }
}
