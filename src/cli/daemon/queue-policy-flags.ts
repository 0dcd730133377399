import { createAgingPolicy, STRICT_PRIORITY } from '../../policy/priority.ts'
import type { DaemonFlags } from './daemon.ts'

/** The aging flags: the field that holds each, the flag, the policy's parameter it sets. */
const AGING_FLAGS = [
  ['agingTheta', '--aging-theta', 'theta'],
  ['agingTau', '--aging-tau', 'tauMs'],
  ['agingSteepness', '--aging-steepness', 'steepnessPerSecond'],
] as const

/**
 * The queue policy the flags ask for: strict, or aging with the given parameters over the defaults.
 * @throws Error naming the flag when a parameter is out of range, or given with strict priority.
 */
export function queuePolicyOf(
  flags: Pick<DaemonFlags, 'queuePolicy' | 'agingTheta' | 'agingTau' | 'agingSteepness'>,
) {
  const aging = {
    ...(flags.agingTheta === undefined ? {} : { theta: flags.agingTheta }),
    ...(flags.agingTau === undefined ? {} : { tauMs: flags.agingTau }),
    ...(flags.agingSteepness === undefined ? {} : { steepnessPerSecond: flags.agingSteepness }),
  }
  if (flags.queuePolicy === 'strict') {
    const given = AGING_FLAGS.filter(([key]) => flags[key] !== undefined).map(([, flag]) => flag)
    if (given.length > 0) throw new Error(`${given.join(', ')}: only with --queue-policy aging, not strict`)
    return STRICT_PRIORITY
  }
  try {
    return createAgingPolicy(aging)
  } catch (err) {
    // the policy's message begins with its parameter's name: said as the flag that sets it
    const message = (err as Error).message
    const flag = AGING_FLAGS.find(([, , param]) => message.startsWith(`${param} `))?.[1]
    throw new Error(`${flag ?? '--aging-*'}: ${message}`)
  }
}
