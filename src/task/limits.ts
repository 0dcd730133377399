import { MAX_JSON_DEPTH } from './json-shape.ts'

/** Units for readable constants. */
export const second = 1000
export const minute = 60 * second
export const KiB = 1024
export const MiB = 1024 * KiB

/** Largest JSON input a task may carry, in bytes of its canonical encoding. */
export const MAX_INPUT_BYTES = 256 * KiB
/** Largest JSON output a result record may carry. */
export const MAX_OUTPUT_BYTES = 256 * KiB

/**
 * Levels of arrays and objects that the messages carrying a task put above its input: an
 * announcement and a steal grant are `{ tasks: [ { spec: { input } } ] }`, four levels. Every
 * message an owner builds from an accepted spec must wrap it no deeper (one that does must raise
 * this), or its peers would refuse the message (and, for gossip, lower the owner's score).
 */
export const TASK_INPUT_WRAPPING = 4
/** Deepest nesting of a task's input (levels of arrays and objects): what its carriers fit within `MAX_JSON_DEPTH`. */
export const MAX_INPUT_DEPTH = MAX_JSON_DEPTH - TASK_INPUT_WRAPPING
/** Levels a signed record value puts above the output: `{ record: { output } }`. */
export const RECORD_OUTPUT_WRAPPING = 2
/** Deepest nesting of a handler's output (levels of arrays and objects), so its record fits within `MAX_JSON_DEPTH`. */
export const MAX_OUTPUT_DEPTH = MAX_JSON_DEPTH - RECORD_OUTPUT_WRAPPING
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
