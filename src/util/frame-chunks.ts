/**
 * Splits `items` into consecutive chunks for frames: each chunk holds at most `maxCount` items and
 * at most `maxBytes` of their sizes, except that an item larger than `maxBytes` goes alone. The
 * order of the items is kept; none is left out.
 * @param sizeOf an item's size in bytes, asked once per item.
 */
export function* frameChunks<T>(
  items: Iterable<T>,
  sizeOf: (item: T) => number,
  maxBytes: number,
  maxCount: number,
): Generator<T[]> {
  let chunk: T[] = []
  let bytes = 0
  for (const item of items) {
    const size = sizeOf(item)
    if (chunk.length > 0 && (chunk.length >= maxCount || bytes + size > maxBytes)) {
      yield chunk
      chunk = []
      bytes = 0
    }
    chunk.push(item)
    bytes += size
  }
  if (chunk.length > 0) yield chunk
}
