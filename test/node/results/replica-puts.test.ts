import { afterEach, describe, expect, it, vi } from 'vitest'
import { PUT_ATTEMPTS, PUT_RETRY_MS, ReplicaPuts } from '../../../src/node/results/replica-puts.ts'

const VALUE = new Uint8Array([1, 2, 3])

function puts(acks: () => Promise<number>, peers = 2, replicas = 3, putConcurrency?: number) {
  const replicate = vi.fn((_key: Uint8Array, _value: Uint8Array) => acks())
  const replicateLater = vi.fn()
  const onError = vi.fn()
  const replicaPuts = new ReplicaPuts({
    dht: { routingTable: { size: peers } } as never,
    replicator: { replicate, replicateLater, replicas },
    onError,
    putConcurrency,
  })
  return { replicaPuts, replicate, replicateLater, onError }
}

/** Every pause between attempts, summed (the n-th waits n × PUT_RETRY_MS). */
const ALL_PAUSES_MS = (PUT_RETRY_MS * PUT_ATTEMPTS * (PUT_ATTEMPTS - 1)) / 2

describe('ReplicaPuts', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('stores once when a peer acknowledges', async () => {
    const { replicaPuts, replicate, replicateLater } = puts(async () => 1)
    replicaPuts.add('t1', VALUE)
    await replicaPuts.flush()
    expect(replicate).toHaveBeenCalledTimes(1)
    expect(replicateLater).not.toHaveBeenCalled()
    expect(replicaPuts.pending).toBe(0)
  })

  it('sends nothing when records are copied to no peer (recordCopies 0)', async () => {
    const { replicaPuts, replicate, replicateLater } = puts(async () => 1, 2, 0)
    replicaPuts.add('t1', VALUE)
    await replicaPuts.flush()
    expect(replicate).not.toHaveBeenCalled()
    expect(replicateLater).not.toHaveBeenCalled()
    expect(replicaPuts.pending).toBe(0)
  })

  it('tries again while no peer acknowledges, reports the last failure, and keeps the record for later', async () => {
    vi.useFakeTimers()
    const { replicaPuts, replicate, replicateLater, onError } = puts(async () => {
      throw new Error('no peer')
    })
    replicaPuts.add('t1', VALUE)
    await vi.advanceTimersByTimeAsync(ALL_PAUSES_MS)
    await replicaPuts.flush()
    expect(replicate).toHaveBeenCalledTimes(PUT_ATTEMPTS)
    expect(onError).toHaveBeenCalledTimes(1)
    expect(onError.mock.calls[0][1]).toBe('t1')
    expect(replicateLater).toHaveBeenCalledTimes(1)
  })

  it('alone in the mesh: no second attempt now, the copies wait for peers', async () => {
    const { replicaPuts, replicate, replicateLater, onError } = puts(async () => 0, 0)
    replicaPuts.add('t1', VALUE)
    await replicaPuts.flush()
    expect(replicate).toHaveBeenCalledTimes(1)
    expect(replicateLater).toHaveBeenCalledWith(expect.any(Uint8Array), VALUE)
    expect(onError).not.toHaveBeenCalled()
  })

  it('runs at most putConcurrency puts at once, the rest in order as places free; close drops the waiting', async () => {
    const answers: Array<(acks: number) => void> = []
    const { replicaPuts, replicate } = puts(
      () => new Promise<number>((resolve) => answers.push(resolve)),
      2,
      3,
      2,
    )
    for (let i = 0; i < 5; i++) replicaPuts.add(`t${i}`, new Uint8Array([i]))
    expect(replicate).toHaveBeenCalledTimes(2)
    expect(replicaPuts.pending).toBe(5)
    let flushed = false
    const flush = replicaPuts.flush().then(() => {
      flushed = true
    })
    answers[1](1)
    await vi.waitFor(() => expect(replicate).toHaveBeenCalledTimes(3))
    expect(replicate.mock.calls[2][1]).toEqual(new Uint8Array([2]))
    answers[0](1)
    await vi.waitFor(() => expect(replicate).toHaveBeenCalledTimes(4))
    expect(replicate.mock.calls[3][1]).toEqual(new Uint8Array([3]))
    expect(replicaPuts.pending).toBe(3)
    replicaPuts.close()
    expect(replicaPuts.pending).toBe(2)
    answers[2](1)
    answers[3](1)
    await flush
    expect(flushed).toBe(true)
    expect(replicate).toHaveBeenCalledTimes(4) // the fifth was dropped
    expect(replicaPuts.pending).toBe(0)
    await replicaPuts.flush() // nothing left: at once
  })
})
