/**
 * Every taskmesh wire message: zod schemas (all `.strict()`, every number bounded) and the types
 * inferred from them. Decode with `decodeMessage(schema, bytes, maxBytes, what)` from `codec.ts`.
 * @packageDocumentation
 */
export * from './beacon-messages.ts'
export * from './custody-messages.ts'
export * from './gossip-messages.ts'
export * from './replicate-messages.ts'
export * from './steal-messages.ts'
export * from './submit-messages.ts'
export { taskSchema } from './task-schema.ts'
export { filledTaskSpecSchema, fullTaskSchema } from './wire-types.ts'
