import type { StealHandlers, StealService } from '../wire/steal-service.ts'
import type { StoryLog } from './story.ts'

/**
 * The owner's side of the steal protocol, with every decision written into the tasks' stories:
 * `granted` (to, epoch), `renew-rejected` (holder), `completed` (by, epoch, outcome), `released`.
 */
export function storyOwnerHandlers(handlers: StealHandlers, story: StoryLog): StealHandlers {
  return {
    onSteal(from, req) {
      const grant = handlers.onSteal(from, req)
      for (const l of grant.leases) story.record(l.taskId, 'granted', { to: from, epoch: l.epoch })
      return grant
    },
    onRenew(from, req) {
      const reply = handlers.onRenew(from, req)
      for (const id of reply.rejected) story.record(id, 'renew-rejected', { holder: from })
      return reply
    },
    async onComplete(from, req) {
      const reply = await handlers.onComplete(from, req)
      const epochs = new Map(req.completions.map((c) => [c.taskId, c.epoch]))
      for (const o of reply.outcomes) {
        story.record(o.taskId, 'completed', {
          by: from,
          epoch: epochs.get(o.taskId) ?? 0,
          outcome: o.outcome,
        })
      }
      return reply
    },
    onRelease(from, req) {
      const reply = handlers.onRelease(from, req)
      for (const id of reply.released) story.record(id, 'released', { by: from })
      return reply
    },
  }
}

type Request = StealService['request']

/**
 * The thief's requests to owners, with what they did to each task written into its story:
 * `stolen` (from, epoch), `renew-rejected` (the owner revoked the lease: the task is dropped, and
 * aborted if it runs), `released` (handed back to its owner).
 */
export function storyStealRequests(
  steal: Pick<StealService, 'request'>,
  story: StoryLog,
): { request: Request } {
  const request = async (peer: string, req: Parameters<Request>[1], signal?: AbortSignal) => {
    const reply = await steal.request(peer, req, signal)
    if (reply.type === 'grant') {
      for (const l of reply.leases) story.record(l.taskId, 'stolen', { from: peer, epoch: l.epoch })
    } else if (reply.type === 'renewed') {
      for (const id of reply.rejected) story.record(id, 'renew-rejected', { owner: peer })
    } else if (reply.type === 'released') {
      for (const id of reply.released) story.record(id, 'released', { to: peer })
    }
    return reply
  }
  return { request: request as Request }
}
