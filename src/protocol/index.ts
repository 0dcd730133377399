/**
 * The protocol layer of taskmesh: wire formats, codecs, validators, signed DHT records and the
 * framed request/response helpers. No policy and no node state lives here.
 * @packageDocumentation
 */
export * from './codec.ts'
export * from './constants.ts'
export * from './errors.ts'
export * from './gossip-validators.ts'
export * from './messages.ts'
export * from './result-record.ts'
export * from './rpc.ts'
export * from './wire-types.ts'
