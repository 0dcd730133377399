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

  it('says a single spec wants a list, and refuses more tasks or bytes than one submission takes', async () => {
    await expect(fromFile('one.json', '{"type":"echo","input":1}')).rejects.toThrow(
      /--file .*one\.json: one task spec, not a list: put it in a list \(\[\{"type": …\}\]\)$/,
    )
    const many = JSON.stringify(Array.from({ length: 10_001 }, () => ({ type: 'noop' })))
    await expect(fromFile('many.json', many)).rejects.toThrow(
      /many\.json: 10001 tasks, over the limit of 10000 a submission: split the file$/,
    )
    const big = JSON.stringify(
      Array.from({ length: 20 }, () => ({ type: 'echo', input: 'x'.repeat(250_000) })),
    )
    await expect(fromFile('big.json', big)).rejects.toThrow(
      /big\.json: the tasks take 5000\d{3} bytes as JSON, over the limit of 4194304 a submission: split the file$/,
    )
    expect(
      await fromFile('fits.json', JSON.stringify([{ type: 'echo', input: 'x'.repeat(250_000) }])),
    ).toHaveLength(1)
  })

  it('refuses a file that is not UTF-8, saying where, where decoding would have replaced the bytes', async () => {
    const file = join(dir, 'latin1.json')
    await writeFile(
      file,
      Buffer.concat([Buffer.from('[{"type":"echo","input":"caf'), Buffer.from([0xe9]), Buffer.from('"}]')]),
    )
    await expect(specsFromFlags(undefined, { file, wait: false } as SubmitFlags)).rejects.toThrow(
      /latin1\.json: not UTF-8 text \(a bad byte at offset 28\): save it as UTF-8$/,
    )
    expect(await fromFile('utf8.json', '[{"type":"echo","input":"café \uFFFD"}]')).toEqual([
      { type: 'echo', input: 'café \uFFFD' },
    ])
  })

  it('refuses a key an object names twice, with its path and line, as JSON.parse would keep the last', async () => {
    const file = '[\n  { "type": "echo", "input": 1 },\n  { "type": "echo",\n    "type": "sleep" }\n]'
    await expect(fromFile('twice.json', file)).rejects.toThrow(
      /--file .*twice\.json: tasks\[1\]: key "type" appears twice \(line 4\): each key once$/,
    )
    const wrapped = '{"tasks":[{"type":"echo","input":{"a":{"b":1,"b":2}}}]}'
    await expect(fromFile('nested.json', wrapped)).rejects.toThrow(
      /: tasks\[0\]\.input\.a: key "b" appears twice \(line 1\)/,
    )
    await expect(fromFile('top.json', '{"tasks":[],"tasks":[{"type":"echo"}]}')).rejects.toThrow(
      /top\.json: key "tasks" appears twice/,
    )
    // the same key in two objects is no repeat
    expect(await fromFile('apart.json', '[{"type":"echo","input":{"type":1}}]')).toEqual([
      { type: 'echo', input: { type: 1 } },
    ])
  })

  it("refuses --input naming a key twice, and keeps JSON.parse's own error for bad JSON", async () => {
    const flags = (input: string) => ({ input, wait: false }) as SubmitFlags
    await expect(specsFromFlags('echo', flags('{"n":1,"m":{"x":1},"n":2}'))).rejects.toThrow(
      '--input: key "n" appears twice (line 1): each key once',
    )
    await expect(specsFromFlags('echo', flags('{"n":'))).rejects.toThrow(/^--input is not valid JSON: /)
  })
})
