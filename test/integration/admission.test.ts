import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { TaskmeshClient } from '../../src/client/taskmesh-client.ts'
import { HttpApi } from '../../src/http/http-api.ts'
import { TaskmeshNode } from '../../src/node/taskmesh-node.ts'
import { RemoteError } from '../../src/protocol/errors.ts'
import { connectAll } from '../../src/simulation/mesh.ts'
import { deadline, sleepSpec, stopAll, waitAll } from './helpers.ts'

/** POSTs a JSON body to the node's HTTP API (as its operator: with the API's token). */
async function post(
  url: string,
  body: unknown,
  token: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  })
  return { status: res.status, json: (await res.json()) as Record<string, unknown> }
}

/** What a refused submission rejects with. */
async function refusal(p: Promise<unknown>): Promise<RemoteError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(RemoteError)
  return err as RemoteError
}

describe('admission', () => {
  let nodes: TaskmeshNode[] = []
  let clients: TaskmeshClient[] = []
  let api: HttpApi | undefined

  afterEach(async () => {
    await api?.close()
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
    await stopAll(nodes)
    nodes = []
    clients = []
    api = undefined
  })

  const connect = async (node: TaskmeshNode, opts: Parameters<typeof TaskmeshClient.connect>[1] = {}) => {
    const client = await TaskmeshClient.connect(node.multiaddrs[0], opts)
    clients.push(client)
    return client
  }

  it('a submitter allow-list refuses other light clients with ERR_NOT_ALLOWED and queues nothing; listed clients, the library and the local HTTP API submit', async () => {
    const allowedKey = await generateKeyPair('Ed25519')
    const allowed = peerIdFromPrivateKey(allowedKey).toString()
    const node = await TaskmeshNode.create({ slots: 1, allowSubmitters: [allowed] })
    nodes.push(node)

    const stranger = await connect(node)
    const impostor = await connect(node, { submitter: allowed }) // names the allowed peer, is not it
    for (const client of [stranger, impostor]) {
      const err = await refusal(client.submit([{ type: 'echo', input: 'let me in' }]))
      expect(err.code).toBe('ERR_NOT_ALLOWED')
      expect(err.message).toMatch(
        /^peer 12D3KooW\w+ may not submit to this node: it is not on the node's submitter allow-list$/,
      )
      expect(err.message).not.toContain(allowed)
    }
    expect(node.ownedCount).toBe(0)
    expect(node.status()).toMatchObject({ queued: 0, counters: { accepted: 0 } })

    const listed = await connect(node, { privateKey: allowedKey })
    const [id] = await listed.submit([{ type: 'echo', input: 'listed' }])
    expect(await listed.result(id, { wait: true })).toMatchObject({ status: 'succeeded', output: 'listed' })
    // reading is not submitting: the stranger may read the result
    expect(await stranger.result(id)).toMatchObject({ output: 'listed' })

    expect((await (await node.submit({ type: 'echo', input: 'library' })).result(deadline())).output).toBe(
      'library',
    )
    api = new HttpApi(node)
    const url = await api.listen(0)
    const created = await post(url, { type: 'echo', input: 'http' }, api.token)
    expect(created.status).toBe(201)
    expect((await node.waitResult((created.json.ids as string[])[0], deadline())).output).toBe('http')

    await expect(TaskmeshNode.create({ allowSubmitters: [allowed, 'nope'] })).rejects.toThrow(
      'allowSubmitters[1]: "nope" is not a peer id',
    )
  })

  it('a full queue refuses submissions over HTTP and the submit protocol with ERR_QUEUE_FULL, queues nothing of them, and takes them again once it drains', async () => {
    // nothing here offers gpu: the owner's gpu tasks stay queued until a gpu node joins and steals them
    const owner = await TaskmeshNode.create({ slots: 1, maxQueueLength: 3 })
    nodes.push(owner)
    api = new HttpApi(owner)
    const url = await api.listen(0)
    const gpu = (i: number) => sleepSpec(5, i, { resources: { labels: ['gpu'] } })
    const client = await connect(owner)

    const first = await post(url, { tasks: [gpu(0), gpu(1)] }, api.token)
    expect(first.status).toBe(201)
    const [third] = await client.submit([gpu(2)])
    const accepted = [...(first.json.ids as string[]), third]
    expect(owner.status().queued).toBe(3)

    // full: one more, over HTTP or the submit protocol, alone or in a batch, is refused whole
    const overHttp = await post(url, gpu(3), api.token)
    expect(overHttp.status).toBe(503)
    expect(overHttp.json).toMatchObject({
      code: 'ERR_QUEUE_FULL',
      error: 'queue full: 3 queued or waiting + 1 submitted exceeds 3',
    })
    const batch = await post(url, { tasks: [gpu(3), gpu(4)] }, api.token)
    expect(batch.status).toBe(503)
    const overProtocol = await refusal(client.submit([gpu(3)]))
    expect(overProtocol.code).toBe('ERR_QUEUE_FULL')
    expect(overProtocol.message).toBe('queue full: 3 queued or waiting + 1 submitted exceeds 3')
    expect(owner.status().queued).toBe(3)
    expect(owner.status().counters.accepted).toBe(3)

    // a gpu node joins and steals them: the queue drains, and the refused task is taken now
    const worker = await TaskmeshNode.create({ slots: 2, labels: ['gpu'] })
    nodes.push(worker)
    await connectAll([owner, worker])
    const done = await waitAll(owner, accepted)
    expect(done.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded'])
    const [retried] = await client.submit([gpu(3)])
    expect(await client.result(retried, { wait: true })).toMatchObject({ status: 'succeeded', output: 3 })
    expect(owner.status().counters.accepted).toBe(4)
  })
})
