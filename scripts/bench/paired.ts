/** How a build fared against another over rounds run in pairs (each round: one run of each). */
export interface PairedFigure {
  /** Rounds in which this build's figure was the lower (the better, for a cost). */
  lower: number
  /** Rounds compared. */
  rounds: number
  /** The median over the rounds of this build's figure divided by the other's in the same round. */
  medianRatio: number
}

/**
 * Compares a cost measured round by round on two builds, each round's pair run back to back: on
 * this shared machine whole rounds drift by a fifth, and a pair's ratio drifts less than either
 * figure. `mine[i]` and `theirs[i]` are round `i`'s.
 * @throws RangeError when the rounds do not pair up.
 */
export function paired(mine: readonly number[], theirs: readonly number[]): PairedFigure {
  if (mine.length !== theirs.length || mine.length === 0) {
    throw new RangeError(`paired: ${mine.length} rounds against ${theirs.length}`)
  }
  const ratios = mine.map((m, i) => m / theirs[i]).sort((a, b) => a - b)
  // the lower middle one of an even count, as the comparison's other medians
  const medianRatio = ratios[Math.floor((ratios.length - 1) / 2)]
  return { lower: ratios.filter((r) => r < 1).length, rounds: ratios.length, medianRatio }
}

/** `3 of 4 rounds lower, median 0.91×`. */
export function pairedText(p: PairedFigure): string {
  return `${p.lower} of ${p.rounds} rounds lower, median ${p.medianRatio.toFixed(2)}×`
}
