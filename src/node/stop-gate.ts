import { NodeStoppedError } from '../task/errors.ts'
import { checkSignal } from '../util/abort-fanout.ts'
import type { Lifecycle } from './assemble.ts'
import type { ResultStore } from './results/result-store.ts'
import { stoppedBeforeResult, stoppedFor } from './stopped-error.ts'

/**
 * What a node's public calls check of its stop, and what ends its users' waits when it stops: a
 * wait for a result, for peers, for a whole submission rejects with a `NodeStoppedError` (code
 * `ERR_NODE_STOPPED`) once the stop has ended, rather than staying pending forever (a program whose
 * last timer was a wait's unref'd deadline simply exited with it unsettled).
 */
export class StopGate {
  private readonly ended = new AbortController()

  constructor(
    private readonly lifecycle: Pick<Lifecycle, 'state'>,
    private readonly results: Pick<ResultStore, 'endWaits'>,
  ) {}

  /** True once the node is stopping or stopped: it asks no peer and takes no new wait. */
  get stopped(): boolean {
    const { state } = this.lifecycle
    return state === 'stopping' || state === 'stopped'
  }

  /** @throws NodeStoppedError `cannot <action>: the node has stopped` once it is stopping or stopped */
  check(action: string, taskId?: string): void {
    if (this.stopped) throw stoppedFor(action, taskId)
  }

  /**
   * Runs a wait of the node's (`where` names the call, `action` says what it waits for) with
   * `signal`, aborted too when the node stops: it then rejects with a `NodeStoppedError`.
   * @throws NodeStoppedError when the node is stopping or stopped already, or stops first
   */
  async untilStop<T>(
    signal: unknown,
    names: { where: string; action: string },
    wait: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const given = checkSignal(signal, names.where)
    this.check(names.action)
    const { signal: ended } = this.ended
    try {
      return await wait(given === undefined ? ended : AbortSignal.any([given, ended]))
    } catch (err) {
      throw ended.aborted ? stoppedFor(names.action) : err
    }
  }

  /** The stop has ended: every wait still pending rejects, and every later one at once. */
  end(): void {
    this.results.endWaits(stoppedBeforeResult)
    if (!this.ended.signal.aborted) this.ended.abort(new NodeStoppedError('the node stopped'))
  }
}
