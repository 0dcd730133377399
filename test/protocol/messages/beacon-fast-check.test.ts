import { describe, expect, it } from 'vitest'
import { isWellFormedBeacon } from '../../../src/protocol/messages/beacon-fast-check.ts'
import {
  beaconFrameSchema,
  beaconSchema,
  beaconSchema10,
  decodeBeacon,
} from '../../../src/protocol/messages/beacon-messages.ts'
import { fastCheckOf } from '../../../src/protocol/messages/fast-path.ts'
import { bytesOf, EXECUTOR, makeBeacon, OWNER } from '../fixtures.ts'
import { expectExactOrStricter } from '../property-helpers.ts'

/** A beacon as a busy node sends it: its queued types, and a hot list of two peers (one with its types). */
const busy = {
  ...makeBeacon(),
  queuedTypes: ['echo'],
  hot: [
    {
      peerId: OWNER,
      addrs: ['/ip4/127.0.0.1/tcp/4001'],
      ageMs: 250,
      ...makeBeacon(),
      queuedTypes: ['sleep', 'echo'],
    },
    { peerId: EXECUTOR, addrs: [], ageMs: 0, ...makeBeacon() },
  ].map(({ v: _v, seq: _seq, sentAt: _sentAt, ...peer }) => peer),
}

describe('the fast check of beacons', () => {
  it('takes the fast path for beacons as nodes make them, and is the first check nodes decode them with', () => {
    for (const beacon of [makeBeacon(), busy, { ...busy, hot: [] }]) {
      expect(beaconSchema.safeParse(beacon).success).toBe(true)
      expect(isWellFormedBeacon(JSON.parse(JSON.stringify(beacon)))).toBe(true)
    }
    expect(fastCheckOf(beaconFrameSchema)).toBe(isWellFormedBeacon)
    expect(decodeBeacon(bytesOf(busy))).toEqual(busy)
  })

  for (const [name, valid] of [
    ['a lone beacon', makeBeacon()],
    ['a beacon with a hot list', busy],
  ] as const) {
    it(`${name}: accepts nothing the schema refuses, and passes what it accepts as it is`, () => {
      expectExactOrStricter(valid, isWellFormedBeacon, beaconSchema)
    })
  }

  it('refuses what the schema refuses at its bounds, with the schema saying where', () => {
    const cases = [
      { ...busy, queuedTypes: [] },
      { ...busy, types: ['Echo'] },
      { ...busy, speed: -1 },
      { ...busy, seq: 1.5 },
      { ...busy, hot: [{ ...busy.hot[0], peerId: '' }] },
      { ...busy, hot: [{ ...busy.hot[0], extra: 1 }] },
      { ...busy, v: 2 },
      { ...busy, sentAt: undefined },
    ]
    for (const beacon of cases) {
      const wire = JSON.parse(JSON.stringify(beacon))
      expect(isWellFormedBeacon(wire)).toBe(false)
      expect(beaconSchema.safeParse(wire).success).toBe(false)
    }
    expect(() => decodeBeacon(bytesOf({ ...busy, types: ['Echo'] }))).toThrow(
      /beacon: types\[0\]: must match/,
    )
    // a 1.0 beacon is decoded by its own schema, which refuses the queued types
    expect(() => decodeBeacon(bytesOf(busy), true)).toThrow(/beacon/)
    expect(beaconSchema10.safeParse(makeBeacon()).success).toBe(true)
  })
})
