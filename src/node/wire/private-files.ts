import { type FileHandle, open, stat } from 'node:fs/promises'

/**
 * Mode of a directory taskmesh makes to hold a node's data (its data dir and the folders in it):
 * its owner's only. Task inputs and outputs sit in the journal and the record store; another
 * user of the machine must not read them.
 */
export const PRIVATE_DIR_MODE = 0o700

/** Mode of a file taskmesh makes in a data dir: readable and writable by its owner only. */
export const PRIVATE_FILE_MODE = 0o600

/** Opens `path` as `fs.promises.open` does, a file it creates readable by its owner only. */
export function openPrivate(path: string, flags: string | number): Promise<FileHandle> {
  return open(path, flags, PRIVATE_FILE_MODE)
}

/**
 * A warning when the data dir `dir` lets other users of the machine in (group or other bits set:
 * a directory made before taskmesh made them private, or by hand), saying how to close it;
 * `undefined` when it is private, or on a platform without such modes.
 */
export async function openDataDirWarning(dir: string): Promise<string | undefined> {
  if (process.platform === 'win32') return undefined
  const mode = (await stat(dir)).mode & 0o777
  if ((mode & 0o077) === 0) return undefined
  const octal = mode.toString(8).padStart(3, '0')
  return `warning: data dir ${dir} is open to other users of this machine (mode ${octal}): the task inputs and results in it are too; close it with: chmod 700 ${dir}`
}
