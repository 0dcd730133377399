import { homedir } from 'node:os'
import { join } from 'node:path'

/** Data dir of a daemon when none is named (`$TASKMESH_DATA_DIR`, else `~/.taskmesh`). */
export const DEFAULT_DATA_DIR = process.env.TASKMESH_DATA_DIR ?? join(homedir(), '.taskmesh')
/** File in the data dir where a running daemon writes how to reach it. */
export const API_FILE = 'api.json'
/** Listen address of a daemon started without `--listen`. */
export const DEFAULT_LISTEN = '/ip4/0.0.0.0/tcp/4010'
