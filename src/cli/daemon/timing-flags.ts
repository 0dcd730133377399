import { detectionTooShort } from '../../node/options.ts'

/**
 * Refuses `--failure-detection` at or below the beacon interval (given, or the default), in the
 * flags' own words, before anything is made (the node's options refuse by the same rule).
 * @throws Error naming both flags and the interval.
 */
export function checkDetection(flags: { beaconInterval?: number; failureDetection?: number }): void {
  const beacon = detectionTooShort(flags.failureDetection, flags.beaconInterval)
  if (beacon === undefined) return
  throw new Error(
    `--failure-detection must be more than --beacon-interval (${beacon} ms): every peer would be judged dead between two of its beacons (default: 3 intervals and a bit), got ${flags.failureDetection}`,
  )
}
