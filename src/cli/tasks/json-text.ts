import { type JSONPath, visit } from 'jsonc-parser'

/**
 * Parses JSON a user wrote (`--input`, a `--file` of tasks) as `JSON.parse` does, but refuses an
 * object that names a key twice: `JSON.parse` keeps the last silently, so a key pasted twice would
 * run a task other than the one the file seems to say.
 * @param where what the text is, for the error: `--input`, `--file tasks.json`.
 * @param arrayRoot the name a top-level array goes by in paths (`tasks`: `tasks[0].input`).
 * @throws Error naming `where`, and for a repeated key its path and line.
 */
export function parseUserJson(text: string, where: string, arrayRoot = ''): unknown {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new Error(`${where} is not valid JSON: ${(err as Error).message}`)
  }
  const repeated = firstRepeatedKey(text, arrayRoot)
  if (repeated !== undefined) {
    const { key, path, line } = repeated
    const at = path === '' ? '' : `${path}: `
    throw new Error(`${where}: ${at}key ${JSON.stringify(key)} appears twice (line ${line}): each key once`)
  }
  return value
}

/** The first key an object of `text` (valid JSON) names twice: the key, its object's path, its line. */
function firstRepeatedKey(
  text: string,
  arrayRoot: string,
): { key: string; path: string; line: number } | undefined {
  const open: Set<string>[] = []
  let found: { key: string; path: string; line: number } | undefined
  visit(text, {
    onObjectBegin: () => void open.push(new Set()),
    onObjectEnd: () => void open.pop(),
    onObjectProperty: (key, _offset, _length, startLine, _startCharacter, pathOf) => {
      const keys = open[open.length - 1]
      if (found !== undefined || keys === undefined) return
      if (keys.has(key)) found = { key, path: pathText(pathOf(), arrayRoot), line: startLine + 1 }
      keys.add(key)
    },
  })
  return found
}

/** `tasks[0].input`: a JSON path as the spec errors say fields. */
function pathText(path: JSONPath, arrayRoot: string): string {
  let text = typeof path[0] === 'number' ? arrayRoot : ''
  for (const part of path) {
    text += typeof part === 'number' ? `[${part}]` : text === '' ? part : `.${part}`
  }
  return text
}
