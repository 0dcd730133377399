import { DEFAULT_BEACON_INTERVAL_MS } from '../../node/options.ts'

/**
 * Refuses `--failure-detection` at or below the beacon interval (given, or the default), in the
 * flags' own words: every peer would be judged dead between two of its beacons.
 * @throws Error naming both flags and the interval.
 */
export function checkDetection(flags: { beaconInterval?: number; failureDetection?: number }): void {
  const beacon = flags.beaconInterval ?? DEFAULT_BEACON_INTERVAL_MS
  if (flags.failureDetection === undefined || flags.failureDetection > beacon) return
  throw new Error(
    `--failure-detection must be more than --beacon-interval (${beacon} ms): every peer would be judged dead between two of its beacons (default: 3 intervals and a bit), got ${flags.failureDetection}`,
  )
}
