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

/** `items` in consecutive lists of at most `size` (none empty; none at all for no items). */
export function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
