/**
 * The scheduling policy layer: pure functions and state machines for queue order, capacity
 * score, victim choice, steal amount and lease bookkeeping. No libp2p, no timers, no I/O — time
 * and randomness are passed in.
 * @packageDocumentation
 */
export * from './capacity.ts'
export * from './errors.ts'
export * from './leases.ts'
export * from './priority.ts'
export * from './queue.ts'
export * from './stealing.ts'
export type * from './types.ts'
