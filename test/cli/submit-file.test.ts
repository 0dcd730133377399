import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type SubmitFlags, specsFromFlags } from '../../src/cli/tasks/submit.ts'

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'taskmesh-file-'))
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** The specs `submit --file` reads from a file holding `text`. */
async function fromFile(name: string, text: string): Promise<unknown[]> {
  const file = join(dir, name)
  await writeFile(file, text)
  return specsFromFlags(undefined, { file, wait: false } as SubmitFlags)
}

describe('submit --file', () => {
  it('reads a file that begins with a byte-order mark', async () => {
    expect(await fromFile('bom.json', '\uFEFF[{"type":"echo"}]')).toEqual([{ type: 'echo' }])
  })

  it('refuses a key besides "tasks", naming it and the file', async () => {
    await expect(fromFile('extra.json', '{"tasks":[{"type":"echo"}],"extra":1}')).rejects.toThrow(
      /--file .*extra\.json: unknown key "extra": a file of tasks takes only "tasks"$/,
    )
  })
})
