import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { encodeMessage } from '../../../src/protocol/codec.ts'
import {
  isWellFormedCustodyFrame,
  isWellFormedCustodyReply,
} from '../../../src/protocol/messages/custody-fast-check.ts'
import {
  custodyAckSchema,
  custodyFrameSchema,
  custodyReplySchema,
  decodeCustodyFrame,
  dropRequestSchema,
  encodeHoldFrame,
  encodeTaskList,
  holdRequestSchema,
} from '../../../src/protocol/messages/custody-messages.ts'
import { fastCheckOf } from '../../../src/protocol/messages/fast-path.ts'
import { bytesOf, EXECUTOR, idOf, makeTask, OWNER } from '../fixtures.ts'
import { expectExactOrStricter } from '../property-helpers.ts'

/** A `hold` as an owner makes it: two custodians (one with addresses), two tasks. */
const hold = {
  type: 'hold',
  requestId: 'r1',
  custodians: [
    { peerId: OWNER, addrs: ['/ip4/127.0.0.1/tcp/4001', '/ip4/10.0.0.2/tcp/4001'] },
    { peerId: EXECUTOR, addrs: [] },
  ],
  tasks: [makeTask(0), makeTask(1)],
}
const drop = { type: 'drop', requestId: 'r2', ids: [idOf(0), idOf(1), idOf(2)] }
const held = { type: 'held', requestId: 'r1', held: 42 }

const reparsed = (value: unknown): unknown => JSON.parse(JSON.stringify(value) ?? 'null')

/** Each frame a check takes, with the member schema that defines it. */
const CASES: Array<{ name: string; valid: unknown; check: (v: unknown) => boolean; schema: z.ZodType }> = [
  { name: 'hold', valid: hold, check: isWellFormedCustodyFrame, schema: holdRequestSchema },
  { name: 'drop', valid: drop, check: isWellFormedCustodyFrame, schema: dropRequestSchema },
  { name: 'held', valid: held, check: isWellFormedCustodyReply, schema: custodyAckSchema },
]

describe('the fast checks of custody frames', () => {
  it('take the fast path for frames as nodes make them', () => {
    for (const { name, valid, check, schema } of CASES) {
      expect(schema.safeParse(valid).success, name).toBe(true)
      expect(check(reparsed(valid)), name).toBe(true)
    }
    // a hold without tasks tells a custodian the owner's new set of custodians
    expect(isWellFormedCustodyFrame({ ...hold, tasks: [] })).toBe(true)
  })

  it('are the first check of the schemas nodes decode custody frames with', () => {
    expect(fastCheckOf(custodyFrameSchema)).toBe(isWellFormedCustodyFrame)
    expect(fastCheckOf(custodyReplySchema)).toBe(isWellFormedCustodyReply)
    const decoded = decodeCustodyFrame(bytesOf(hold))
    expect(decoded).toEqual(reparsed(hold))
  })

  for (const { name, valid, check, schema } of CASES) {
    it(`${name}: accept nothing its schema refuses, and pass what it accepts as it is`, () => {
      expectExactOrStricter(valid, check, schema)
    })
  }

  it('leave the other frames, and values of the wrong type, to the schema', () => {
    const forget = { type: 'forget', requestId: 'r3' }
    const query = { type: 'query', requestId: 'r4', owner: OWNER, ids: [idOf(0)] }
    for (const frame of [forget, query]) {
      expect(isWellFormedCustodyFrame(frame)).toBe(false)
      expect(custodyFrameSchema.safeParse(frame).success).toBe(true)
    }
    const known = { type: 'known', requestId: 'r4', guarded: [idOf(0)], taken: [] }
    const error = { type: 'error', requestId: 'r1', code: 'ERR_NOT_READY', message: 'node is starting' }
    for (const reply of [known, error]) {
      expect(isWellFormedCustodyReply(reply)).toBe(false)
      expect(custodyReplySchema.safeParse(reply).success).toBe(true)
    }
    for (const v of [null, [], 'hold', 1, { ...hold, extra: 1 }, { ...held, held: -1 }])
      expect(isWellFormedCustodyFrame(v) || isWellFormedCustodyReply(v)).toBe(false)
  })

  it('refuse what the schemas refuse at their bounds, with the schema saying where', () => {
    const noCustodians = { ...hold, custodians: [] }
    const fiveCustodians = { ...hold, custodians: Array.from({ length: 5 }, () => hold.custodians[1]) }
    const badId = { ...drop, ids: ['bafkrei-not-a-task-id'] }
    const noIds = { ...drop, ids: [] }
    const partHeld = { ...held, held: 1.5 }
    for (const frame of [noCustodians, fiveCustodians, badId, noIds]) {
      expect(isWellFormedCustodyFrame(frame)).toBe(false)
      expect(custodyFrameSchema.safeParse(frame).success).toBe(false)
    }
    expect(isWellFormedCustodyReply(partHeld)).toBe(false)
    expect(custodyReplySchema.safeParse(partHeld).success).toBe(false)
    expect(() => decodeCustodyFrame(bytesOf(badId))).toThrow(/custody frame: ids\[0\]: not a task id/)
  })

  it('a hold made around a task list encoded once is the frame encodeMessage makes', () => {
    const list = encodeTaskList(hold.tasks.map((task) => JSON.stringify(task)))
    expect(Buffer.from(encodeHoldFrame('r1', hold.custodians, list)).toString()).toBe(
      Buffer.from(encodeMessage(hold)).toString(),
    )
    const empty = { ...hold, tasks: [] }
    expect(Buffer.from(encodeHoldFrame('r1', hold.custodians, encodeTaskList([]))).toString()).toBe(
      Buffer.from(encodeMessage(empty)).toString(),
    )
  })
})
