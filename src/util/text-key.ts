import { Key } from 'interface-datastore'

/** A valid placeholder for `Key`'s constructor, which would encode the text at once. */
const SLASH = Uint8Array.of(0x2f)
const encoder = new TextEncoder()

/**
 * A datastore key that keeps its text, and makes its bytes only when asked. `Key` holds only
 * bytes: it encodes its text at construction (a fresh ~90 bytes of Node's buffer pool per key,
 * and a new 8 KiB pool every ~90 keys) and decodes them at every `toString()`, while a record
 * write asks for the text at each layer it passes (the fenced write's index, the counting wrapper,
 * the LevelDB adapter) and for the bytes at none. Same bytes, same text, same behaviour otherwise:
 * every `Key` method reads the bytes through `_buf`, which this class makes on first use.
 */
export class TextKey extends Key {
  declare private readonly text: string
  declare private bytes: Uint8Array | undefined

  /** @param text a clean key (`/a/b`: leading slash, no trailing one, no empty part), used as given. */
  constructor(text: string) {
    super(SLASH, false)
    // `Key` defined `_buf` on the instance: gone, the accessor below answers for it (removing the
    // one property added last keeps the object's fast shape)
    delete (this as unknown as { _buf?: Uint8Array })._buf
    this.text = text
    this.bytes = undefined
  }

  override toString(encoding?: Parameters<Key['toString']>[0]): string {
    return encoding === undefined || encoding === 'utf8' ? this.text : super.toString(encoding)
  }
}

Object.defineProperty(TextKey.prototype, '_buf', {
  get(this: { text: string; bytes: Uint8Array | undefined }): Uint8Array {
    this.bytes ??= encoder.encode(this.text)
    return this.bytes
  },
  set(this: { bytes: Uint8Array | undefined }, value: Uint8Array) {
    this.bytes = value
  },
  configurable: true,
})
