/** Units for readable constants. */
export const second = 1000
export const minute = 60 * second
export const KiB = 1024
export const MiB = 1024 * KiB

/** Largest JSON input a task may carry, in bytes of its canonical encoding. */
export const MAX_INPUT_BYTES = 256 * KiB
/** Largest JSON output a result record may carry. */
export const MAX_OUTPUT_BYTES = 256 * KiB
/** Priority range accepted at submit (integers). */
export const MIN_PRIORITY = -1000
export const MAX_PRIORITY = 1000
/** Longest timeout a task may ask for. */
export const MAX_TIMEOUT_MS = 24 * 60 * minute
/** Most attempts a task may ask for. */
export const MAX_ATTEMPTS = 100
/** Most labels a task may need or a node may offer. */
export const MAX_LABELS = 32
/** Most tasks in one submission (a graph counts as one submission). */
export const MAX_TASKS_PER_SUBMISSION = 10_000

export const DEFAULT_PRIORITY = 0
export const DEFAULT_TIMEOUT_MS = 5 * minute
export const DEFAULT_MAX_ATTEMPTS = 3
