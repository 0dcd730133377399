import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { PEER_KEY_FILE } from '../../node/wire/identity.ts'
import { ensureSwarmKeyFile, readSwarmKeyFile } from '../../node/wire/swarm-key.ts'

/** The swarm key file a daemon makes and uses in its data dir when given none. */
export const DATA_DIR_SWARM_KEY = 'swarm.key'

/** Who may connect to a daemon: holders of its swarm key (the default), or anyone (`--open`). */
export type MeshAccess =
  | {
      kind: 'private'
      file: string
      key: Uint8Array
      created: boolean
      given: boolean
      /** Made anew in a data dir used before (its peer key was there): the old mesh's nodes cannot connect. */
      remade?: boolean
    }
  | { kind: 'open' }

/** The flags that decide it. */
export interface MeshAccessFlags {
  swarmKey?: string
  open: boolean
  bootstrap: string[]
}

/**
 * Closed by default, as k3s and Syncthing are: `--swarm-key <file>` uses that key; `--open` runs an
 * open mesh on purpose; otherwise the daemon uses `<data-dir>/swarm.key`, made on its first start.
 * A first start that is to join others (`--bootstrap`) would make a key no other node holds, so it
 * is refused before anything is written, saying how to join.
 * @throws Error naming the flag and what to do.
 */
export async function meshAccess(flags: MeshAccessFlags, dataDir: string): Promise<MeshAccess> {
  if (flags.open) return { kind: 'open' }
  if (flags.swarmKey !== undefined) {
    const key = await readSwarmKeyFile(flags.swarmKey).catch((err: Error) => {
      throw new Error(`--swarm-key: ${err.message} (create one with: taskmesh swarm-key ${flags.swarmKey})`)
    })
    return { kind: 'private', file: flags.swarmKey, key, created: false, given: true }
  }
  const file = join(dataDir, DATA_DIR_SWARM_KEY)
  const exists = await access(file).then(
    () => true,
    () => false,
  )
  if (!exists && flags.bootstrap.length > 0) {
    throw new Error(
      `--bootstrap: this daemon has no swarm key yet, and a new one would be its own: copy the mesh's key from a node of it (its <data-dir>/${DATA_DIR_SWARM_KEY}) and pass --swarm-key <file>, or put it at ${file}; or pass --open to join an open mesh`,
    )
  }
  const used = await access(join(dataDir, PEER_KEY_FILE)).then(
    () => true,
    () => false,
  )
  const { created } = await ensureSwarmKeyFile(file)
  const key = await readSwarmKeyFile(file)
  return { kind: 'private', file, key, created, given: false, ...(created && used ? { remade: true } : {}) }
}

/**
 * What the daemon tells its operator about access: for a private mesh (stdout) the key file and
 * how another machine joins; for an open one, a warning (stderr).
 */
export function accessReport(mesh: MeshAccess, multiaddrs: string[]): { out: string[]; warn: string[] } {
  if (mesh.kind === 'open') {
    return {
      out: [],
      warn: [
        'warning: --open: this node runs an OPEN mesh: any peer that can reach it may join, submit tasks, steal and run them, and sign their results',
      ],
    }
  }
  // a machine elsewhere dials an address that is not loopback, when the node has one
  const join = multiaddrs.find((a) => !/^\/ip[46]\/(127\.|::1\/)/.test(a)) ?? multiaddrs[0] ?? '<this node>'
  return {
    out: [
      `swarm key ${mesh.file}${mesh.created ? ' (created: a private mesh, only nodes with this key connect)' : ''}`,
      `to join from another machine: copy ${mesh.file} there, then run: taskmesh daemon --swarm-key <that copy> --bootstrap ${join}`,
    ],
    warn:
      mesh.remade === true
        ? [
            `warning: ${mesh.file} was missing from a data dir used before (its ${PEER_KEY_FILE} is there): a new swarm key was made, and the nodes holding the old one cannot connect to this one; to rejoin them, stop, put the old key back (or pass --swarm-key) and start again`,
          ]
        : [],
  }
}
