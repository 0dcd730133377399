import { MAX_ERROR_CHARS } from '../../protocol/constants.ts'

/** One link of a dependency failure: `dependency <id> failed[ (<n> tasks up the chain)]: <rest>`. */
const LINK = /^dependency (\S+) failed(?: \((\d+) tasks up the chain\))?: ([\s\S]*)$/

/**
 * The error of a task whose dependency `dep` failed with `error` (cut to the record's limit). When
 * that error is itself a dependency's failure, the chain is folded to the task it started at and
 * how far up it is, so the root's own error stays whole however deep the graph:
 * `dependency <dep> failed: dependency <root> failed (498 tasks up the chain): <root's error>`
 * (a chain of 500 nested each link's text, and the root's error was cut off at 16 KiB).
 */
export function dependencyFailure(dep: string, error: string | undefined): string {
  let rest = error ?? 'failed'
  let root: string | undefined
  let hops = 0
  for (let link = LINK.exec(rest); link !== null; link = LINK.exec(rest)) {
    root = link[1]
    hops += link[2] === undefined ? 1 : Number(link[2])
    rest = link[3]
  }
  const chain =
    root === undefined ? '' : `dependency ${root} failed${hops > 1 ? ` (${hops} tasks up the chain)` : ''}: `
  return `dependency ${dep} failed: ${chain}${rest}`.slice(0, MAX_ERROR_CHARS)
}
