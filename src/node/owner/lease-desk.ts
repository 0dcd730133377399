import { canRun } from '../../policy/capacity.ts'
import type { OtherDrainers } from '../../policy/drainers.ts'
import type { Lease } from '../../policy/leases.ts'
import { grantCount } from '../../policy/stealing.ts'
import { MAX_FRAME_BYTES } from '../../protocol/constants.ts'
import type { CompleteRequest, StealGrant, StealRequest } from '../../protocol/messages/messages.ts'
import { type ResultRecord, resultKey } from '../../protocol/records/result-record.ts'
import { type AttemptRecord, type Task, taskByteLength } from '../../task/task.ts'
import { monotonicNow } from '../../util/clock.ts'
import type { LocalQueue } from '../run/local-queue.ts'

/** Room a grant frame keeps for its envelope (`type`, `requestId`, `ttlMs`, brackets), bytes. */
const GRANT_ENVELOPE_BYTES = 1024
/** Most bytes one lease of a grant takes (task id, epoch, expiry and a proof of up to 548 characters), besides earlier attempts. */
const GRANT_LEASE_BYTES = 768

/** What {@link grantTasks} needs of the owner. */
export interface GrantParts {
  queue: Pick<LocalQueue, 'stealableCount' | 'queuedWorkMs' | 'takeForSteal'>
  slots: number
  speed: number
  ttlMs: number
  /**
   * With it, the owner grants only when its own expected wait exceeds this plus the thief's (an
   * offer: the owner, not the thief, weighs the move). @defaultValue 0
   */
  transferCostMs?: number
  /** What else drains the queue besides this thief (see `stealAmount`). */
  others?: OtherDrainers
  /** The owned task of a queued id (undefined when it is not owned any more). */
  task(taskId: string): Task | undefined
  /** Puts a task taken from the queue back (it did not fit the grant frame). */
  requeue(taskId: string): void
  /** Leases one task taken from the queue to the thief; undefined when it is not owned (any more). */
  lease(
    taskId: string,
    now: number,
  ): { task: Task; lease: Lease & { attempts?: AttemptRecord[] } } | undefined
  /** The owner's proofs of the leases of one grant, in order (one signature for them all). */
  prove(leases: Array<{ taskId: string; epoch: number }>): string[]
}

/**
 * The owner's answer to a steal request: as many queued tasks as the cost rule grants
 * (`grantCount`, at most what the thief asked for), of those the thief can run, each under a
 * lease of its own with the owner's proof (one signature for the grant's leases).
 */
export function grantTasks(req: StealRequest, parts: GrantParts): StealGrant {
  const { queue } = parts
  const now = monotonicNow()
  const victim = {
    queued: queue.stealableCount,
    queuedWorkMs: queue.queuedWorkMs(true),
    slots: parts.slots,
    speed: parts.speed,
  }
  const n = Math.min(
    req.max,
    grantCount({
      victim,
      thief: {
        queued: req.queued,
        queuedWorkMs: req.queuedWorkMs,
        slots: req.offer.slots,
        speed: req.speed,
        freeSlots: req.freeSlots,
        // what the thief asked for beyond its free slots is the prefetch that keeps its slots busy
        // while its next steal is in flight (see the thief); the balance rule still bounds it
        prefetch: Math.max(0, req.max - req.freeSlots),
      },
      requested: req.max,
      transferCostMs: parts.transferCostMs,
      others: parts.others,
    }),
  )
  const taken = n > 0 ? queue.takeForSteal(now, n, (t) => canRun(req.offer, t)) : []
  const tasks: Task[] = []
  const leases: Array<Omit<StealGrant['leases'][number], 'proof'>> = []
  let bytes = GRANT_ENVELOPE_BYTES
  for (const [i, q] of taken.entries()) {
    // the grant must fit one frame: what does not goes back to the queue, for the next steal
    const task = parts.task(q.id)
    if (task === undefined) continue
    bytes += taskByteLength(task) + GRANT_LEASE_BYTES
    if (tasks.length > 0 && bytes > MAX_FRAME_BYTES) {
      for (const rest of taken.slice(i)) parts.requeue(rest.id)
      break
    }
    const granted = parts.lease(q.id, now)
    if (granted === undefined) continue
    const { lease } = granted
    tasks.push(granted.task)
    const { epoch, expiresAt, attempts } = lease
    leases.push({ taskId: q.id, epoch, expiresAt, ...(attempts === undefined ? {} : { attempts }) })
  }
  const proofs = parts.prove(leases)
  const proven = leases.map((l, i) => ({ ...l, proof: proofs[i] }))
  return { type: 'grant', requestId: req.requestId, tasks, leases: proven, ttlMs: parts.ttlMs }
}

type Completion = CompleteRequest['completions'][number]

/** What {@link judgeCompletion} reads of the owner's ledger. */
export interface JudgeParts {
  owned(taskId: string): boolean
  settled(taskId: string): { epoch: number; executor: string | undefined } | undefined
  lease(taskId: string): Lease | undefined
  /**
   * Checks a signed record as the node's DHT validator does, but for the signature of a batch
   * `from` (the completion's sender, on its authenticated stream) signed itself.
   */
  open(value: Uint8Array, key: Uint8Array, from: string): ResultRecord
}

/** The owner's verdict on one completion, with the record it carried when it checks out. */
export interface Judgement {
  verdict: 'accepted' | 'stale' | 'unknown'
  carried?: { record: ResultRecord; value: Uint8Array }
}

/**
 * The fencing rule of completions: only the current lease's holder with the current epoch
 * completes an owned task, and only with its record, which must verify as its own (without one
 * the owner would end the task holding no result of it, which might never reach anyone). A
 * report of a task settled already is `accepted` again only from the same executor and epoch;
 * anything else is `stale`; a task never owned here is `unknown`.
 */
export function judgeCompletion(from: string, c: Completion, parts: JudgeParts): Judgement {
  if (!parts.owned(c.taskId)) {
    const settled = parts.settled(c.taskId)
    if (settled === undefined) return { verdict: 'unknown' }
    return { verdict: settled.epoch === c.epoch && settled.executor === from ? 'accepted' : 'stale' }
  }
  const holds = () => {
    const lease = parts.lease(c.taskId)
    return lease !== undefined && lease.holder === from && lease.epoch === c.epoch
  }
  if (!holds()) return { verdict: 'stale' }
  if (c.record === undefined) return { verdict: 'stale' }
  const carried = openCarried(from, c, parts)
  // a completion whose record does not check out completes nothing: the lease runs out; the lease
  // may also have moved on while the signature was checked
  if (carried === undefined || !holds()) return { verdict: 'stale' }
  return { verdict: 'accepted', carried }
}

/** The record a completion carries, when it verifies as the sender's record of that epoch. */
function openCarried(
  from: string,
  c: Completion,
  parts: Pick<JudgeParts, 'open'>,
): { record: ResultRecord; value: Uint8Array } | undefined {
  try {
    const value = Buffer.from(c.record ?? '', 'base64')
    const record = parts.open(value, resultKey(c.taskId), from)
    if (record.executor !== from || record.epoch !== c.epoch || record.status !== c.status) return undefined
    return { record, value }
  } catch {
    return undefined
  }
}
