import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { HandlerModuleError } from './errors.ts'
import type { HandlerDefinition } from './handler.ts'
import { HANDLER_NAME_PATTERN as NAME_PATTERN } from './handler-name.ts'

/** A scheme such as `file:` or `data:` (two letters at least, so `C:\…` stays a path). */
const URL_SCHEME = /^[a-z][a-z0-9+.-]+:/i

/**
 * The URL to import an operator module from: URLs are kept, anything else is a file path
 * resolved against the working directory.
 */
export function toModuleUrl(specifier: string): string {
  return URL_SCHEME.test(specifier) ? specifier : pathToFileURL(resolve(specifier)).href
}

/**
 * Validates an operator module's namespace: its default export must map handler types to a
 * function (a worker-mode handler) or a `{ run, mode?, description? }` definition.
 * @returns the definitions with their mode resolved (`worker` unless the module says otherwise).
 * @throws HandlerModuleError naming `file` and the bad export.
 */
export function parseHandlerModule(file: string, namespace: unknown): [string, HandlerDefinition][] {
  const exported = (namespace as { default?: unknown } | null)?.default
  if (typeof exported !== 'object' || exported === null || Array.isArray(exported)) {
    throw new HandlerModuleError(
      file,
      `default export must be an object mapping handler types to functions or { run } definitions (export default { type: fn }), got ${kind(exported)}`,
    )
  }
  const entries: [string, HandlerDefinition][] = []
  for (const [type, value] of Object.entries(exported)) {
    if (!NAME_PATTERN.test(type)) {
      throw new HandlerModuleError(file, `export "${type}": handler type must match ${NAME_PATTERN}`)
    }
    entries.push([type, parseEntry(file, type, value)])
  }
  if (entries.length === 0) throw new HandlerModuleError(file, 'default export defines no handlers')
  return entries
}

function parseEntry(file: string, type: string, value: unknown): HandlerDefinition {
  if (typeof value === 'function') return { run: value as HandlerDefinition['run'], mode: 'worker' }
  if (typeof value !== 'object' || value === null) {
    throw new HandlerModuleError(
      file,
      `export "${type}" must be a function or { run: function }, got ${kind(value)}`,
    )
  }
  const { run, mode = 'worker', description, checkInput } = value as Record<string, unknown>
  if (typeof run !== 'function') {
    throw new HandlerModuleError(file, `export "${type}".run must be a function, got ${kind(run)}`)
  }
  if (mode !== 'inline' && mode !== 'worker') {
    throw new HandlerModuleError(
      file,
      `export "${type}".mode must be "inline" or "worker", got ${kind(mode)}`,
    )
  }
  if (description !== undefined && typeof description !== 'string') {
    throw new HandlerModuleError(
      file,
      `export "${type}".description must be a string, got ${kind(description)}`,
    )
  }
  if (checkInput !== undefined && typeof checkInput !== 'function') {
    throw new HandlerModuleError(
      file,
      `export "${type}".checkInput must be a function, got ${kind(checkInput)}`,
    )
  }
  const check = checkInput as HandlerDefinition['checkInput']
  return { run: run as HandlerDefinition['run'], mode, description, ...(check && { checkInput: check }) }
}

function kind(value: unknown): string {
  if (value === null || value === undefined) return String(value)
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'object' || typeof value === 'function') return `an ${typeof value}`
  return `${typeof value} ${String(value)}`
}
