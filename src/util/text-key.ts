import { Key } from 'interface-datastore'

/**
 * A datastore key that keeps its text. `Key` holds only bytes and decodes them at every
 * `toString()`, and a record write asks for the text at each layer it passes (the fenced write's
 * lock and index, the peer-entry cache, the LevelDB adapter): several decodes of the same ~90
 * bytes per copy kept. Same bytes, same text, same behaviour otherwise.
 */
export class TextKey extends Key {
  private readonly text: string

  /** @param text a clean key (`/a/b`: leading slash, no trailing one, no empty part), used as given. */
  constructor(text: string) {
    super(text, false)
    this.text = text
  }

  override toString(encoding?: Parameters<Key['toString']>[0]): string {
    return encoding === undefined || encoding === 'utf8' ? this.text : super.toString(encoding)
  }
}
