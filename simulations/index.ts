import type { SimulationConfig } from '../src/simulation/run-simulation.ts'

/**
 * Named simulation scenarios for `taskmesh simulate --scenario <name>`; command-line flags
 * override their fields. The 8-node ones run on warm nodes (5,000 short sleeps first: the paths
 * compiled, as on daemons that have run a while) with an event loop per core, as the 2-daemon
 * comparison with BullMQ runs; `--layout shared-loop --warm-up 0` runs them as before.
 */
export const SCENARIOS: Record<string, SimulationConfig> = {
  /** The reference skewed workload: everything submitted at one node of 8 × 4 slots. */
  skewed: {
    name: 'skewed',
    nodes: 8,
    slots: 4,
    tasks: 2000,
    duration: { kind: 'lognormal', medianMs: 20, sigma: 0.5 },
    submit: 'one-node',
    layout: 'cores',
    warmUp: 5000,
  },
  /** Heterogeneous nodes: slots 1–8 and speeds 0.5–2×, all work submitted at the slowest node. */
  heterogeneous: {
    name: 'heterogeneous',
    nodes: 8,
    slots: [1, 2, 3, 4, 5, 6, 7, 8],
    speeds: [0.5, 2, 0.75, 1.75, 1, 1.5, 1.25, 0.5],
    tasks: 2000,
    duration: { kind: 'lognormal', medianMs: 20, sigma: 0.5 },
    submit: 'one-node',
    layout: 'cores',
    warmUp: 5000,
  },
  /** The same work entering at every node in turn. */
  spread: {
    name: 'spread',
    nodes: 8,
    slots: 4,
    tasks: 2000,
    duration: { kind: 'lognormal', medianMs: 20, sigma: 0.5 },
    submit: 'round-robin',
    layout: 'cores',
    warmUp: 5000,
  },
  /** A small, quick mesh for smoke runs. */
  small: {
    name: 'small',
    nodes: 3,
    slots: 2,
    tasks: 100,
    duration: { kind: 'fixed', ms: 10 },
    submit: 'one-node',
  },
}
