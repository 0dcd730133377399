import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { describe, expect, it } from 'vitest'
import { TextKey } from '../../src/util/text-key.ts'

describe('TextKey', () => {
  it('is the Key of its text: same bytes, same text, same namespaces, any encoding', () => {
    const text = '/dht/record/AFZHI2LBN5XW2ZLTOVWHIL3CMFTGW4TFNFSDI'
    const key = new TextKey(text)
    const plain = new Key(text, false)
    expect(key).toBeInstanceOf(Key)
    expect(key.toString()).toBe(text)
    expect(key.toString('utf8')).toBe(text)
    expect(key.toString('base64')).toBe(plain.toString('base64'))
    expect(Buffer.from(key.uint8Array()).equals(Buffer.from(plain.uint8Array()))).toBe(true)
    expect(key.less(plain) || plain.less(key)).toBe(false)
    expect(key.namespaces()).toEqual(['dht', 'record', 'AFZHI2LBN5XW2ZLTOVWHIL3CMFTGW4TFNFSDI'])
    expect(key.parent().toString()).toBe('/dht/record')
    expect(key.isDecendantOf(new Key('/dht'))).toBe(true)
  })

  it('makes its bytes only when asked, once; every Key method sees them', () => {
    const key = new TextKey('/a/b/c')
    expect(Object.keys(key)).not.toContain('_buf') // no bytes made at construction
    const bytes = key.uint8Array()
    expect(new TextDecoder().decode(bytes)).toBe('/a/b/c')
    expect(key.uint8Array()).toBe(bytes)
    expect(key.child(new Key('d')).toString()).toBe('/a/b/c/d')
    expect(key.less(new Key('/a/b/d'))).toBe(true)
    expect(key.baseNamespace()).toBe('c')
    expect(new TextKey('/dht/x').less(new TextKey('/dht/y'))).toBe(true)
  })

  it('stores and reads back as the plain Key of the same text', async () => {
    const store = new MemoryDatastore()
    await store.put(new TextKey('/a/b'), Uint8Array.of(1, 2))
    expect([...(await store.get(new Key('/a/b')))]).toEqual([1, 2])
    expect(await store.has(new TextKey('/a/c'))).toBe(false)
  })
})
