import { randomBytes } from 'node:crypto'
import { link, rename, rm, writeFile } from 'node:fs/promises'

/** Link errors of a file system without hard links. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'ENOSYS'])

/**
 * Creates `path` holding `bytes` whole, unless it exists: written to a temp file of its own (named
 * with the pid and random bytes: two writers in one process never share one), then hard-linked in
 * place, which fails when `path` exists, so a reader never sees it half written and two that create
 * it at once agree on one content. On a file system without hard links the temp file is renamed in
 * place (the last of two writers at once wins).
 * @returns true when this call created it, false when it existed.
 * @throws the file system's error (`ENOENT` when the directory does not exist).
 */
export async function writeFileOnce(path: string, bytes: Uint8Array, mode = 0o600): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  try {
    await writeFile(tmp, bytes, { mode, flag: 'wx' })
    try {
      await link(tmp, path)
    } catch (err) {
      const { code } = err as NodeJS.ErrnoException
      if (code === 'EEXIST') return false
      if (code === undefined || !NO_LINKS.has(code)) throw err
      await rename(tmp, path)
    }
    return true
  } finally {
    await rm(tmp, { force: true })
  }
}
