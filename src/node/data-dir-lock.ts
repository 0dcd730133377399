import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'

/**
 * A data dir another node uses (a running daemon, or another node of this process): its LevelDB
 * datastore is locked. `cause` is LevelDB's own error (`LEVEL_LOCKED` under it).
 */
export class DataDirInUseError extends Error {
  override readonly name = 'DataDirInUseError'
  readonly code = 'ERR_DATA_DIR_IN_USE'
  constructor(
    readonly dataDir: string,
    options?: ErrorOptions,
  ) {
    super(`data dir ${dataDir} is in use by another node (its datastore is locked)`, options)
  }
}

/** True when `err`, or an error in its `cause` chain, is LevelDB's `LEVEL_LOCKED`. */
function isLevelLocked(err: unknown): boolean {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if ((e as { code?: unknown }).code === 'LEVEL_LOCKED') return true
    e = (e as { cause?: unknown }).cause
  }
  return false
}

/**
 * What opening a node with `dataDir` failed with, said plainly when its datastore is locked: the
 * datastore's `OpenFailedError` says only `Database failed to open` (it drops LevelDB's reason),
 * so the datastore is opened once more, not created, to read that reason. Any other error is
 * returned as it is.
 */
export async function explainOpenFailure(err: unknown, dataDir: string | undefined): Promise<unknown> {
  if (dataDir === undefined || (err as { name?: unknown } | null)?.name !== 'OpenFailedError') return err
  const probe = new LevelDatastore(join(dataDir, 'datastore'))
  try {
    await probe.db.open({ createIfMissing: false })
  } catch (reason) {
    return isLevelLocked(reason) ? new DataDirInUseError(dataDir, { cause: reason }) : err
  }
  await probe.db.close().catch(() => undefined) // free again now: the failure was something else
  return err
}
