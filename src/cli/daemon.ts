import { readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { HttpApi } from '../http/http-api.ts'
import { TaskmeshNode } from '../node/taskmesh-node.ts'
import { STRICT_PRIORITY } from '../policy/priority.ts'
import { API_FILE, DEFAULT_DATA_DIR } from './target.ts'

/** Flags of `taskmesh daemon`. */
export interface DaemonFlags {
  listen: string[]
  bootstrap: string[]
  dataDir: string
  slots?: number
  handlers: string[]
  labels?: string
  memoryMb?: number
  httpPort: number
  http: boolean
  swarmKey?: string
  mdns: boolean
  queuePolicy: 'aging' | 'strict'
}

/** Starts a node, prints its identity, serves the local HTTP API, and stops cleanly on SIGINT/SIGTERM. */
export async function runDaemon(flags: DaemonFlags): Promise<void> {
  const dataDir = resolve(flags.dataDir ?? DEFAULT_DATA_DIR)
  const node = await TaskmeshNode.create({
    dataDir,
    listen: flags.listen.length > 0 ? flags.listen : ['/ip4/0.0.0.0/tcp/4010'],
    bootstrap: flags.bootstrap,
    slots: flags.slots,
    handlers: flags.handlers.map((h) => pathToFileURL(resolve(h)).href),
    labels: flags.labels === undefined ? [] : flags.labels.split(',').filter((l) => l.length > 0),
    memoryMb: flags.memoryMb,
    swarmKey: flags.swarmKey === undefined ? undefined : await readFile(flags.swarmKey),
    mdns: flags.mdns,
    queuePolicy: flags.queuePolicy === 'strict' ? STRICT_PRIORITY : undefined,
  })
  let api: HttpApi | undefined
  let url: string | undefined
  if (flags.http) {
    api = new HttpApi(node)
    url = await api.listen(flags.httpPort)
  }
  const apiFile = join(dataDir, API_FILE)
  await writeFile(
    apiFile,
    JSON.stringify({ url, peerId: node.peerId, multiaddrs: node.multiaddrs, pid: process.pid }),
  )
  console.log(`taskmesh node ${node.peerId}`)
  for (const addr of node.multiaddrs) console.log(`listening ${addr}`)
  if (url !== undefined) console.log(`http api ${url}`)
  console.log(`handlers ${node.types.join(', ')}`)
  console.log('ready')

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    void (async () => {
      console.log(`${signal}: stopping`)
      await api?.close()
      await node.stop()
      await rm(apiFile, { force: true })
      console.log('stopped')
      process.exit(0)
    })()
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}
