import {
  DEFAULT_CUSTODIANS,
  FRAME_BUDGET_BYTES,
  MAX_HOT_ADDRS,
  MAX_TASKS_PER_MESSAGE,
} from '../../protocol/constants.ts'
import { encodeHoldFrame, encodeTaskList } from '../../protocol/messages/custody-messages.ts'
import { forgetTaskText, type Task, taskText } from '../../task/task.ts'
import { Batcher } from '../../util/batcher.ts'
import { chunksOf, frameChunks } from '../../util/frame-chunks.ts'
import type { CustodyService } from '../wire/custody-service.ts'

/** Ended tasks are told to custodians together, at most this often (ms). */
export const DROP_WINDOW_MS = 100

/** Tasks of one `hold` frame, and their JSON list as the frame carries it. */
interface HoldChunk {
  tasks: Task[]
  list: string
}

/** The chunk of a `hold` that only tells a custodian the set of custodians. */
const NO_TASKS: HoldChunk = { tasks: [], list: encodeTaskList([]) }

/** Options of {@link CustodyKeeper}. */
export interface CustodyKeeperOptions {
  /** Sends custody frames. */
  custody: Pick<CustodyService, 'request'>
  /** The connected peers serving the custody protocol, closest to this node's id first (XOR). */
  candidates(count: number): Promise<string[]>
  /** Where a peer listens (multiaddrs without `/p2p/`), for its fellow custodians. */
  addrsOf(peer: string): string[]
  /** Every task this node owns and has no result for (handed to a new custodian). */
  openTasks(): Task[]
  /**
   * Whether this node still owns the task without a result: one that ended before it was handed
   * (a quick task of a large submission, taken in turns) is handed to no one — its drop came first,
   * and a custodian would guard it for good. @defaultValue always
   */
  isOpen?(taskId: string): boolean
  /** @defaultValue DEFAULT_CUSTODIANS */
  count?: number
  /** A custodian could not be told (its copy is re-sent when it is replaced). */
  onError?(peer: string, err: Error): void
  /**
   * This node's key was made at this start (no data dir, no key given): no earlier life of it
   * exists, so no peer holds tasks of one and none is told to forget them. @defaultValue false
   */
  firstLife?: boolean
}

/**
 * The owner side of custody: the specs of every task this node owns go to its custodians — the
 * `count` connected peers closest to its own peer id when chosen — and each learns when they end.
 * A custodian stays while it is connected; one that leaves is replaced by the closest other, which
 * gets every open task at once (the others learn of the new set). The custodians
 * are the only nodes that remember this owner's tasks; when it dies, the live one closest to a
 * task's id adopts it.
 */
export class CustodyKeeper {
  private custodians: string[] = []
  private readonly drops: Batcher<string>
  /**
   * Tasks some `hold` carried and no drop has named since: a task that ended before it was handed
   * over (a submitter's quick task, see `CUSTODY_GRACE_MS`) is no custodian's to forget.
   */
  private readonly handed = new Set<string>()
  private picking: Promise<void> | undefined
  /** Peers told to forget what an earlier life of this node handed them (see {@link greet}). */
  private readonly greeted = new Map<string, Promise<boolean>>()

  constructor(private readonly opts: CustodyKeeperOptions) {
    this.drops = new Batcher(DROP_WINDOW_MS, (ids) => void this.sendDrops(ids), { leading: false })
  }

  /** The custodians chosen now. */
  get current(): readonly string[] {
    return this.custodians
  }

  /**
   * Hands the specs of tasks this node just took to its custodians; resolves once every one of
   * them acknowledged its frames or failed (a failed one is replaced; an owner without peers keeps
   * its journal).
   */
  async hold(taken: Task[]): Promise<void> {
    if (taken.length === 0) return
    await this.pick()
    const open = this.opts.isOpen ?? (() => true)
    const tasks: Task[] = []
    for (const t of taken) {
      if (open(t.id)) tasks.push(t)
      else forgetTaskText(t) // ended already: for no custodian (see `isOpen`)
    }
    if (tasks.length === 0) return
    const custodians = this.custodians
    if (custodians.length === 0) {
      for (const task of tasks) forgetTaskText(task) // the journal has it (see `chunks`)
      return
    }
    const chunks = this.chunks(tasks)
    this.handOver(chunks)
    const told = await Promise.all(custodians.map((peer) => this.send(peer, custodians, chunks)))
    if (told.every(Boolean)) return
    // a custodian named in the list but without these tasks would leave them unadopted (the others
    // leave a task to the successor the list names): the ones that got them learn at once that the
    // failed ones are out — each then adopts all it holds — and the failed ones are chosen again (or
    // replaced) and handed every open task, named to the others only once they hold it
    const failed = new Set(custodians.filter((_, i) => !told[i]))
    this.custodians = this.custodians.filter((p) => !failed.has(p))
    const survivors = this.custodians
    await Promise.all(survivors.map((peer) => this.send(peer, survivors, [])))
    this.refreshSoon()
  }

  /** Tasks that have a result now: every custodian forgets the ones it was handed (batched). */
  drop(ids: string[]): void {
    for (const id of ids) if (this.handed.delete(id)) this.drops.add(id)
  }

  /**
   * Peers came or went: keeps the custodians that are still connected, fills up with the next
   * closest, and hands every open task to each new one.
   */
  async refresh(): Promise<void> {
    const before = this.custodians
    await this.picking // a pick in flight read the candidates before this change
    // the list is replaced at once, never emptied meanwhile: the chosen ones serve until then
    this.custodians = await this.choose(before).catch(() => before)
    const now = this.custodians
    const added = now.filter((p) => !before.includes(p))
    if (added.length === 0 && now.length === before.length) return
    const open = this.opts.openTasks()
    if (open.length === 0) return
    // the new ones get every open task first; the kept ones then learn of the set, naming only the
    // new ones that acknowledged (a custodian named but without the tasks would leave its share of
    // them unadopted): every custodian judges successors among the same set
    const chunks = this.chunks(open)
    this.handOver(chunks)
    const told = await Promise.all(added.map((peer) => this.send(peer, now, chunks)))
    const failed = new Set(added.filter((_, i) => !told[i]))
    if (failed.size > 0) this.custodians = this.custodians.filter((p) => !failed.has(p))
    const confirmed = this.custodians
    // a new one that failed was named to the new ones that did not: they learn the set as well
    const tell = failed.size > 0 ? confirmed : confirmed.filter((p) => before.includes(p))
    await Promise.all(tell.map((peer) => this.send(peer, confirmed, [])))
  }

  /**
   * The first custody frame to a peer in this life of the node: `forget`, so a custodian of an
   * earlier life (before a restart) drops tasks that life handed it. Sent once per peer, before any
   * `hold`; a peer not told (it did not answer) is asked again next time. A node in its first life
   * sends nothing (there is nothing to forget): a greeting cost each end of every connection a
   * custody stream, a quarter of the streams a 100-node mesh opened while it formed.
   * @returns false when the peer could not be told.
   */
  greet(peer: string): Promise<boolean> {
    if (this.opts.firstLife === true) return Promise.resolve(true)
    let told = this.greeted.get(peer)
    if (told === undefined) {
      told = this.opts.custody.request(peer, { type: 'forget', requestId: crypto.randomUUID() }).then(
        (reply) => reply.type !== 'error',
        (err: Error) => {
          this.opts.onError?.(peer, err)
          return false
        },
      )
      told.then((ok) => {
        if (!ok) this.greeted.delete(peer)
      })
      this.greeted.set(peer, told)
    }
    return told
  }

  /** True while fewer custodians than wanted are chosen (the node should look again when peers come). */
  get short(): boolean {
    return this.custodians.length < (this.opts.count ?? DEFAULT_CUSTODIANS)
  }

  /** Sends what is pending now (the node stops). */
  flushNow(): void {
    this.drops.flushNow()
  }

  private refreshSoon(): void {
    queueMicrotask(() => void this.refresh())
  }

  /** Chooses custodians among the candidates, keeping the ones chosen before while they last. */
  private pick(): Promise<void> {
    if (!this.short) return Promise.resolve()
    this.picking ??= this.choose(this.custodians).then(
      (chosen) => {
        this.picking = undefined
        this.custodians = chosen
      },
      () => {
        this.picking = undefined
      },
    )
    return this.picking
  }

  /**
   * The custodians to have: those of `kept` that are still candidates (a custodian is not replaced
   * because a closer peer connected: every change moves open tasks), then the closest others.
   */
  private async choose(kept: readonly string[]): Promise<string[]> {
    const count = this.opts.count ?? DEFAULT_CUSTODIANS
    // every candidate: a kept custodian may be farther than the closest few by now
    const closest = await this.opts.candidates(Number.MAX_SAFE_INTEGER)
    const still = kept.filter((p) => closest.includes(p)).slice(0, count)
    return [...still, ...closest.filter((p) => !still.includes(p))].slice(0, count)
  }

  /**
   * Notes the tasks of `chunks` as handed over (a drop will name them), once for all the custodians
   * about to be sent them: a custodian that gets a drop naming a task it never held ignores it.
   */
  private handOver(chunks: HoldChunk[]): void {
    for (const { tasks } of chunks) for (const task of tasks) this.handed.add(task.id)
  }

  /**
   * Sends the tasks of `chunks` (none: the custodians' set alone) to one custodian, a frame per
   * chunk; false when a frame failed.
   */
  private async send(peer: string, custodians: string[], chunks: HoldChunk[]): Promise<boolean> {
    const named = custodians.map((id) => ({
      peerId: id,
      addrs: this.opts.addrsOf(id).slice(0, MAX_HOT_ADDRS),
    }))
    try {
      if (!(await this.greet(peer))) return false
      for (const { tasks, list } of chunks.length === 0 ? [NO_TASKS] : chunks) {
        const requestId = crypto.randomUUID()
        const frame = { type: 'hold' as const, requestId, custodians: named, tasks }
        const reply = await this.opts.custody.request(peer, frame, encodeHoldFrame(requestId, named, list))
        if (reply.type === 'error') throw new Error(`${reply.code}: ${reply.message}`)
      }
      return true
    } catch (err) {
      this.opts.onError?.(peer, err as Error)
      return false
    }
  }

  private async sendDrops(ids: string[]): Promise<void> {
    for (const peer of this.custodians) {
      for (const chunk of chunksOf(ids, MAX_TASKS_PER_MESSAGE)) {
        await this.opts.custody
          .request(peer, { type: 'drop', requestId: crypto.randomUUID(), ids: chunk })
          .catch((err: Error) => this.opts.onError?.(peer, err))
      }
    }
  }

  /**
   * Splits tasks into frames of at most `MAX_TASKS_PER_MESSAGE` tasks and `FRAME_BUDGET_BYTES` of
   * JSON, each task encoded once and each frame's task list once, for every custodian (the bytes
   * are not kept beyond the hold: an open task's spec is memory enough). The journal wrote the
   * tasks before (see `takeSubmission`): their text, made once for both, is let go of here.
   */
  private chunks(tasks: Task[]): HoldChunk[] {
    const json = tasks.map(taskText)
    for (const task of tasks) forgetTaskText(task)
    const chunks: HoldChunk[] = []
    const bytesOf = (i: number) => Buffer.byteLength(json[i])
    for (const at of frameChunks(tasks.keys(), bytesOf, FRAME_BUDGET_BYTES, MAX_TASKS_PER_MESSAGE)) {
      chunks.push({ tasks: at.map((i) => tasks[i]), list: encodeTaskList(at.map((i) => json[i])) })
    }
    return chunks
  }
}
