/**
 * The files of a fresh project that uses the packed package as a consumer would: an ES module run
 * by plain `node`, a TypeScript file checked under NodeNext, and a handlers module in TypeScript
 * (which the installed, compiled CLI must refuse with a clear error).
 */

/** `package.json` of the consumer project. */
export const CONSUMER_PACKAGE = { name: 'consumer', version: '1.0.0', private: true, type: 'module' }

/**
 * `tsconfig.json`: NodeNext and strict, with `skipLibCheck` as most projects have it; the expected
 * errors in {@link CONSUMER_TS} prove the declarations resolve, down to zod's and libp2p's types.
 */
export const CONSUMER_TSCONFIG = {
  compilerOptions: {
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    target: 'ES2022',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
  },
  files: ['consumer.ts'],
}

/**
 * `consumer.ts`: uses the library's types. Each expected error would be unused — itself an error —
 * if a type it touches had fallen back to `any`: the node options, a record (a zod-inferred type)
 * and the node's libp2p instance (libp2p's own declarations).
 */
export const CONSUMER_TS = `import { type ResultRecord, type TaskSpecInput, TaskmeshClient, TaskmeshNode } from 'taskmesh'

const spec: TaskSpecInput = { type: 'echo', input: 'hi', priority: 5 }

export async function run(): Promise<ResultRecord> {
  const node = await TaskmeshNode.create({ slots: 1, labels: ['gpu'] })
  try {
    const handle = await node.submit(spec)
    return await handle.result(AbortSignal.timeout(1_000))
  } finally {
    await node.stop()
  }
}

export const connect: typeof TaskmeshClient.connect = TaskmeshClient.connect

// @ts-expect-error slots is a number
await TaskmeshNode.create({ slots: 'many' })

export function checks(record: ResultRecord, node: TaskmeshNode): void {
  // @ts-expect-error status is a string union
  const status: number = record.status
  // @ts-expect-error libp2p's peer id is an object
  const peer: number = node.libp2p.peerId
  void status
  void peer
}
`

/**
 * \`two-nodes.mjs\`: two nodes over TCP on 127.0.0.1. The task needs a label only the second node
 * offers, so it must be stolen and run there (sha256 runs in the worker pool); the result is read
 * at both nodes. Prints one JSON line.
 */
export const TWO_NODES_MJS = `import { HttpApi, TaskmeshNode } from 'taskmesh'

const owner = await TaskmeshNode.create({ slots: 1 })
const thief = await TaskmeshNode.create({ slots: 1, labels: ['gpu'], bootstrap: owner.multiaddrs })
try {
  const signal = AbortSignal.timeout(30_000)
  await Promise.all([owner.waitForPeers(1, signal), thief.waitForPeers(1, signal)])
  const handle = await owner.submit({
    type: 'sha256',
    input: { data: 'taskmesh', iterations: 1000 },
    resources: { labels: ['gpu'] },
  })
  const record = await handle.result(signal)
  const atThief = await thief.getResult(handle.id)
  // the dashboard's files and uPlot come from the installed package
  const api = new HttpApi(owner)
  const base = await api.listen(0)
  const served = []
  for (const path of ['/', '/dashboard/app.js', '/dashboard/uPlot.iife.min.js']) {
    served.push((await fetch(base + path)).status)
  }
  await api.close()
  console.log(JSON.stringify({ owner: owner.peerId, thief: thief.peerId, record, atThief, served }))
} finally {
  await Promise.all([owner.stop(), thief.stop()])
}
`

/** `handlers.ts`: a handlers module the compiled daemon cannot import without a TypeScript loader. */
export const HANDLERS_TS = 'export default { hi: (input: string): string => input }\n'
