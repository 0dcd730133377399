import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  ensureSwarmKeyFile,
  generateSwarmKey,
  InvalidSwarmKeyError,
  parseSwarmKey,
  readSwarmKeyFile,
} from '../../../src/node/wire/swarm-key.ts'

const text = (s: string) => new TextEncoder().encode(s)
const HEX = 'ab'.repeat(32)

describe('swarm keys', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taskmesh-swarm-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('generates libp2p v1 key files, each with a fresh key, that parse back unchanged', () => {
    const a = generateSwarmKey()
    const b = generateSwarmKey()
    expect(new TextDecoder().decode(a)).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/)
    expect(a).not.toEqual(b)
    expect(parseSwarmKey(a)).toBe(a)
    expect(parseSwarmKey(text(`/key/swarm/psk/1.0.0/\r\n/base16/\r\n${HEX}\n`))).toBeDefined()
  })

  it.each([
    ['an empty file', '', /line 1 must be/],
    ['another tag', `/key/swarm/psk/2.0.0/\n/base16/\n${HEX}`, /line 1 must be "\/key\/swarm\/psk\/1.0.0\/"/],
    ['another encoding', `/key/swarm/psk/1.0.0/\n/base64/\n${HEX}`, /line 2 must be "\/base16\/"/],
    ['a short key', `/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(2)}`, /line 3 must be the key/],
    ['a key that is not hex', `/key/swarm/psk/1.0.0/\n/base16/\n${'zz'.repeat(32)}`, /64 hexadecimal digits/],
    ['text after the key', `/key/swarm/psk/1.0.0/\n/base16/\n${HEX}\nmore`, /nothing after it/],
  ])('refuses %s, saying which line is wrong', (_name, contents, message) => {
    expect(() => parseSwarmKey(text(contents))).toThrow(InvalidSwarmKeyError)
    expect(() => parseSwarmKey(text(contents))).toThrow(message)
  })

  it('ensureSwarmKeyFile writes a key readable by its owner only, then keeps it; a bad file is named and left alone', async () => {
    const file = join(dir, 'swarm.key')
    expect(await ensureSwarmKeyFile(file)).toEqual({ created: true })
    const first = await readFile(file)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(await ensureSwarmKeyFile(file)).toEqual({ created: false })
    expect(await readFile(file)).toEqual(first)
    expect(Buffer.compare(await readSwarmKeyFile(file), first)).toBe(0)

    const bad = join(dir, 'bad.key')
    await writeFile(bad, 'not a key')
    await expect(ensureSwarmKeyFile(bad)).rejects.toThrow(`swarm key ${bad}: line 1 must be`)
    expect(await readFile(bad, 'utf8')).toBe('not a key')
    await expect(readSwarmKeyFile(join(dir, 'missing.key'))).rejects.toThrow(
      /cannot read swarm key .*missing\.key/,
    )
  })
})
