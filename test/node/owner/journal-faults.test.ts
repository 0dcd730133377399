import { existsSync } from 'node:fs'
import { appendFile, type FileHandle, mkdir, open, readFile, stat, writeFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { TaskJournal } from '../../../src/node/owner/journal.ts'
import { acceptLine } from '../../../src/node/owner/journal-lines.ts'
import { journalPaths, task } from './journal-fixture.ts'

/** How the handles of {@link faulty} misbehave; each fault is real I/O cut short, not a mock of fs. */
interface Faults {
  /** Most bytes one write writes (it returns fewer than asked: a short write). */
  shortAt?: number
  /** Writes after this many more calls throw ENOSPC (the first ones still write, short if so). */
  failAfter?: number
  /** `truncate` throws. */
  noTruncate?: boolean
}

/** An `open` for {@link TaskJournal} whose handles write as `faults` says. */
function faulty(faults: Faults) {
  return async (path: string, flags: string | number): Promise<FileHandle> => {
    const handle = await open(path, flags)
    const write = async (data: string | Uint8Array, offset?: number, length?: number) => {
      if (faults.failAfter !== undefined && faults.failAfter-- <= 0) throw enospc()
      let buffer = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)
      if (typeof data !== 'string' && offset !== undefined)
        buffer = buffer.subarray(offset, offset + (length ?? buffer.length - offset))
      return handle.write(buffer.subarray(0, Math.min(buffer.length, faults.shortAt ?? buffer.length)))
    }
    const truncate = async (len?: number) => {
      if (faults.noTruncate) throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' })
      return handle.truncate(len)
    }
    return new Proxy(handle, {
      get(target, prop) {
        if (prop === 'write') return write
        if (prop === 'truncate') return truncate
        const value = Reflect.get(target, prop)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  }
}

const enospc = () =>
  Object.assign(new Error('ENOSPC: no space left on device, write'), {
    code: 'ENOSPC',
    errno: -28,
    syscall: 'write',
  })

const ids = (n: number[]) => n.map((i) => task(i).id)

describe('TaskJournal faults', () => {
  const paths = journalPaths()
  const replayed = async () => {
    const journal = new TaskJournal(paths.path)
    const tasks = await journal.replay()
    return { ids: tasks.map((t) => t.id), damage: journal.damage }
  }
  const tornTail = async () => {
    const line = acceptLine(task(2)).text
    const torn = line.slice(0, Math.floor(line.length / 2))
    await appendFile(paths.path, torn)
    return Buffer.byteLength(torn)
  }

  it('cuts a torn last line at replay: the next entry starts on a line of its own', async () => {
    const first = new TaskJournal(paths.path)
    await first.accept([task(1)])
    await first.close()
    const torn = await tornTail()
    const again = new TaskJournal(paths.path)
    expect((await again.replay()).map((t) => t.id)).toEqual(ids([1]))
    expect(again.damage).toMatchObject({ path: paths.path, tornBytes: torn, skipped: 0 })
    await again.accept([task(3)])
    await again.close()
    // a second crash: the task accepted after the first one is still there
    expect(await replayed()).toMatchObject({ ids: ids([1, 3]), damage: { skipped: 0, tornBytes: 0 } })
  })

  it('cuts a torn last line when it appends without a replay first', async () => {
    const first = new TaskJournal(paths.path)
    await first.accept([task(1)])
    await first.close()
    const torn = await tornTail()
    const again = new TaskJournal(paths.path, 'os')
    await again.accept([task(3)])
    expect(again.damage.tornBytes).toBe(torn)
    await again.close()
    expect(await replayed()).toMatchObject({ ids: ids([1, 3]), damage: { skipped: 0, tornBytes: 0 } })
  })

  it('keeps a whole last entry a crash left without its newline, and ends its line', async () => {
    await writeFile(paths.path, `${acceptLine(task(1)).text}\n${acceptLine(task(2)).text}`)
    const again = new TaskJournal(paths.path)
    expect((await again.replay()).map((t) => t.id)).toEqual(ids([1, 2]))
    expect(again.damage.tornBytes).toBe(0)
    await again.accept([task(3)])
    await again.close()
    expect(await replayed()).toMatchObject({ ids: ids([1, 2, 3]), damage: { skipped: 0 } })
  })

  it('counts the damaged lines it skips, with the numbers of the first five', async () => {
    const bad = JSON.stringify({ op: 'accept', task: { id: 'x' } })
    const lines = [acceptLine(task(1)).text, 'garbage', bad, acceptLine(task(2)).text, '', 'a', 'b', 'c', 'd']
    await writeFile(paths.path, `${lines.join('\n')}\n`)
    expect(await replayed()).toEqual({
      ids: ids([1, 2]),
      damage: { path: paths.path, skipped: 6, skippedLines: [2, 3, 6, 7, 8], tornBytes: 0 },
    })
  })

  it('writes the rest of a short write: a group is acknowledged only once all of it is written', async () => {
    const faults: Faults = { shortAt: 4_096 }
    const journal = new TaskJournal(paths.path, 'sync', { open: faulty(faults) })
    const many = Array.from({ length: 300 }, (_, i) => i + 1)
    await journal.accept(many.map(task))
    expect(journal.stats.bytes).toBeGreaterThan(4_096 * 10)
    expect((await stat(paths.path)).size).toBe(journal.stats.bytes)
    await journal.close()
    expect(await replayed()).toMatchObject({ ids: ids(many), damage: { skipped: 0, tornBytes: 0 } })
  })

  it('rejects a group whose write fails, naming the journal, and cuts its torn bytes off', async () => {
    const faults: Faults = {}
    const journal = new TaskJournal(paths.path, 'sync', { open: faulty(faults) })
    await journal.accept([task(1)])
    const size = (await stat(paths.path)).size
    // the disk fills up in the middle of a group: a short write, then ENOSPC
    Object.assign(faults, { shortAt: 1_000, failAfter: 1 })
    const failed = journal.accept(Array.from({ length: 50 }, (_, i) => task(i + 2)))
    const err = await failed.then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    )
    expect(err?.message).toBe(`journal ${paths.path}: cannot write: ENOSPC: no space left on device, write`)
    expect(err).toMatchObject({ code: 'ENOSPC', cause: { code: 'ENOSPC', syscall: 'write' } })
    expect((await stat(paths.path)).size).toBe(size + 1_000) // torn, until the next group
    Object.assign(faults, { shortAt: undefined, failAfter: undefined })
    await journal.accept([task(60)])
    await journal.close()
    expect(await replayed()).toMatchObject({ ids: ids([1, 60]), damage: { skipped: 0, tornBytes: 0 } })
  })

  it('starts the next group on a line of its own when the torn bytes cannot be cut', async () => {
    const faults: Faults = {}
    const journal = new TaskJournal(paths.path, 'os', { open: faulty(faults) })
    await journal.accept([task(1)])
    Object.assign(faults, { shortAt: 100, failAfter: 1, noTruncate: true })
    await expect(journal.accept([task(2), task(3)])).rejects.toMatchObject({ code: 'ENOSPC' })
    Object.assign(faults, { shortAt: undefined, failAfter: undefined })
    await journal.accept([task(4)])
    // and again: the journal's idea of its length is sound after the fallback
    Object.assign(faults, { shortAt: 50, failAfter: 1, noTruncate: false })
    await expect(journal.accept([task(5)])).rejects.toMatchObject({ code: 'ENOSPC' })
    Object.assign(faults, { shortAt: undefined, failAfter: undefined })
    await journal.accept([task(6)])
    await journal.close()
    // the first torn line stays, alone on its line, skipped; the second was cut
    expect(await replayed()).toMatchObject({ ids: ids([1, 4, 6]), damage: { skipped: 1, skippedLines: [2] } })
  })

  it.skipIf(!existsSync('/dev/full'))(
    'names the journal when a write fails for real (/dev/full)',
    async () => {
      const journal = new TaskJournal('/dev/full', 'os')
      await expect(journal.accept([task(1)])).rejects.toMatchObject({
        message: 'journal /dev/full: cannot write: ENOSPC: no space left on device, write',
        code: 'ENOSPC',
        cause: { code: 'ENOSPC' },
      })
      await journal.close()
    },
  )

  it('names the journal when its path is a directory', async () => {
    await mkdir(paths.path)
    const replay = new TaskJournal(paths.path).replay()
    await expect(replay).rejects.toThrow(`journal ${paths.path}: cannot read: EISDIR`)
    await expect(replay).rejects.toMatchObject({ code: 'EISDIR', cause: { code: 'EISDIR' } })
    const journal = new TaskJournal(paths.path)
    await expect(journal.accept([task(1)])).rejects.toThrow(`journal ${paths.path}: cannot open: EISDIR`)
    await journal.close()
  })

  it('names the journal when a compaction fails', async () => {
    const journal = new TaskJournal(paths.path)
    await journal.accept([task(1)])
    await mkdir(`${paths.path}.compact`)
    await expect(journal.compact()).rejects.toMatchObject({
      message: expect.stringMatching(new RegExp(`^journal ${paths.path}: cannot compact: EISDIR`)),
      code: 'EISDIR',
    })
    await journal.close()
    expect(await readFile(paths.path, 'utf8')).toBe(`${acceptLine(task(1)).text}\n`)
  })
})
