// how an error quotes the value it refused, wherever a value is checked (options, task specs)

/** Characters of a given value an error quotes, at most. */
const QUOTED_CHARS = 60

/**
 * A given value as an error quotes it: strings and small arrays and objects as JSON, numbers as
 * they are (`NaN`, `-5`), anything else by its kind (`a function`, `a Uint8Array of 10 bytes`).
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) return String(value)
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'symbol') return value.toString()
  if (typeof value === 'function') return 'a function'
  if (value instanceof Uint8Array) return `a ${value.constructor.name} of ${value.length} bytes`
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const proto = Object.getPrototypeOf(value)
    // a class instance (a Map, a Date, a key) by its class: its JSON says little
    if (proto !== Object.prototype && proto !== null) return `a ${proto.constructor?.name || 'object'}`
  }
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch {
    // cyclic, or holding a bigint: described by its kind below
  }
  if (text !== undefined && text.length <= QUOTED_CHARS) return text
  if (typeof value === 'string')
    return `${JSON.stringify(value.slice(0, QUOTED_CHARS))}… (${value.length} characters)`
  return Array.isArray(value) ? `an array of ${value.length} items` : 'an object'
}
