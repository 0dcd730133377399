import { BUILTIN_HANDLERS } from './builtin-handlers.ts'
import { DuplicateHandlerError, HandlerModuleError, InvalidHandlerError } from './errors.ts'
import type { HandlerDefinition, HandlerFn, RegisteredHandler } from './handler.ts'
import { parseHandlerModule, toModuleUrl } from './handler-module.ts'
import { HANDLER_NAME_PATTERN as NAME_PATTERN } from './handler-name.ts'
import { importFailure } from './import-failure.ts'

/** `source` of the handlers in {@link BUILTIN_HANDLERS}. */
export const BUILTIN_SOURCE = 'builtin'
/** `source` of handlers registered in code with {@link HandlerRegistry.register}. */
export const LOCAL_SOURCE = 'local'

/**
 * The handler types a node offers. A task only names a registered type: no code travels.
 *
 * Handlers come from three places: the built-ins, operator modules (`load`, `--handlers`), and
 * `register` in code. Worker-mode handlers must come from a module or the built-ins, because each
 * worker thread imports the same modules (see {@link HandlerRegistry.modules}) to find them.
 */
export class HandlerRegistry {
  readonly #handlers = new Map<string, RegisteredHandler>()
  readonly #modules: string[] = []

  /** A registry with the built-ins plus the operator modules (file paths or `file:` URLs). */
  static async withBuiltins(moduleSpecifiers: string[] = []): Promise<HandlerRegistry> {
    const registry = new HandlerRegistry()
    for (const [type, def] of Object.entries(BUILTIN_HANDLERS)) registry.#add(type, def, BUILTIN_SOURCE)
    for (const specifier of moduleSpecifiers) await registry.load(specifier)
    return registry
  }

  /** `file:` URLs of the operator modules loaded so far, in load order; workers import these. */
  get modules(): string[] {
    return [...this.#modules]
  }

  /**
   * Registers a handler defined in code: a function, or `{ run, description? }`. Such handlers
   * run inline: a function cannot be sent to a worker thread, so `mode: 'worker'` is refused —
   * put the handler in a module and `load` it instead.
   * @throws InvalidHandlerError for a bad type name or definition; DuplicateHandlerError.
   */
  register(type: string, handler: HandlerDefinition | HandlerFn): this {
    const def: HandlerDefinition = typeof handler === 'function' ? { run: handler } : handler
    if (def?.mode === 'worker') {
      throw new InvalidHandlerError(
        type,
        'worker-mode handlers must be loaded from a module (registry.load or --handlers) so worker threads can import them; register it with mode "inline" or put it in a module',
      )
    }
    this.#add(type, { ...def, mode: 'inline' }, LOCAL_SOURCE)
    return this
  }

  /**
   * Imports an operator module (`export default { type: fn | { run, mode?, description? } }`,
   * a bare function meaning a worker-mode handler) and registers all its handlers, or none.
   * @returns the types it registered.
   * @throws HandlerModuleError naming the file and the bad export.
   */
  async load(specifier: string): Promise<string[]> {
    const url = toModuleUrl(specifier)
    let namespace: unknown
    try {
      namespace = await import(url)
    } catch (error) {
      throw new HandlerModuleError(specifier, `cannot be imported: ${importFailure(error, url)}`, {
        cause: error,
      })
    }
    const entries = parseHandlerModule(specifier, namespace)
    for (const [type] of entries) {
      if (this.#handlers.has(type)) {
        throw new HandlerModuleError(
          specifier,
          `export "${type}": handler type "${type}" is already registered`,
        )
      }
    }
    for (const [type, def] of entries) this.#add(type, def, url)
    this.#modules.push(url)
    return entries.map(([type]) => type)
  }

  /** The handler registered under `type`, if any. */
  get(type: string): RegisteredHandler | undefined {
    return this.#handlers.get(type)
  }

  /** True when `type` is registered. */
  has(type: string): boolean {
    return this.#handlers.has(type)
  }

  /** Registered types, sorted (what a node advertises in its beacons). */
  types(): string[] {
    return [...this.#handlers.keys()].sort()
  }

  #add(type: string, def: HandlerDefinition, source: string): void {
    if (typeof type !== 'string' || !NAME_PATTERN.test(type)) {
      throw new InvalidHandlerError(String(type), `type must match ${NAME_PATTERN}`)
    }
    if (typeof def?.run !== 'function') throw new InvalidHandlerError(type, 'run must be a function')
    const mode = def.mode ?? 'worker'
    if (mode !== 'inline' && mode !== 'worker') {
      throw new InvalidHandlerError(type, `mode must be "inline" or "worker", got ${JSON.stringify(mode)}`)
    }
    if (def.checkInput !== undefined && typeof def.checkInput !== 'function') {
      throw new InvalidHandlerError(type, 'checkInput must be a function')
    }
    if (this.#handlers.has(type)) throw new DuplicateHandlerError(type)
    const { run, description, checkInput } = def
    this.#handlers.set(type, { type, run, mode, description, ...(checkInput && { checkInput }), source })
  }
}
