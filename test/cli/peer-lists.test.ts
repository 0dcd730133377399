import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readPeerFile } from '../../src/cli/daemon/peer-lists.ts'

describe('a file of peer ids', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taskmesh-peer-lists-'))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it("quotes a binary entry as JSON, cut, so its bytes never reach the operator's terminal", async () => {
    const file = join(dir, 'binary')
    await writeFile(
      file,
      Buffer.from([0x1b, 0x5b, 0x33, 0x31, 0x6d, 0x00, 0x07, ...Buffer.from('x'.repeat(100))]),
    )
    const err = await readPeerFile(file, '--deny-peers').then(
      () => undefined,
      (e: Error) => e,
    )
    expect(err?.message).toBe(
      `--deny-peers ${file}:1: "\\u001b[31m\\u0000\\u0007${'x'.repeat(53)}"… (107 characters) is not a peer id (expected e.g. 12D3KooW…)`,
    )
    // no control character is printed as it is
    expect([...(err?.message ?? '')].some((c) => c.charCodeAt(0) < 0x20)).toBe(false)
  })
})
