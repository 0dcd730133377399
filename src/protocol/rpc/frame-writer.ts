import type { Stream } from '@libp2p/interface'
import { encode as lpEncode } from 'it-length-prefixed'
import { Uint8ArrayList } from 'uint8arraylist'

/**
 * Writes length-prefixed frames to a stream, coalescing every frame written in one synchronous run
 * into one `send` (one muxer frame, one encryption, one socket write instead of one each), and
 * waiting for the stream to drain when it says so. The prefixes and frames go to the stream as a
 * list, uncopied: the encryption below copies them once, into the ciphertext.
 */
export class FrameWriter {
  private queued = new Uint8ArrayList()
  private tail: Promise<void> = Promise.resolve()
  private scheduled = false
  private draining = false

  constructor(
    private readonly stream: Stream,
    private readonly onError: (err: Error) => void,
  ) {}

  write(frame: Uint8Array): void {
    this.queued.append(lpEncode.single(frame))
    if (this.scheduled) return
    this.scheduled = true
    this.tail = this.tail.then(() => this.flush())
  }

  /** True while the stream's buffer is full and the writer waits for it to drain. */
  get blocked(): boolean {
    return this.draining
  }

  /** Resolves once every frame written so far has been handed to the stream. */
  settled(): Promise<void> {
    return this.tail
  }

  private async flush(): Promise<void> {
    this.scheduled = false
    const bytes = this.queued
    this.queued = new Uint8ArrayList()
    if (bytes.byteLength === 0) return
    try {
      if (!this.stream.send(bytes)) {
        this.draining = true
        await this.stream.onDrain()
      }
    } catch (err) {
      this.onError(err as Error)
    } finally {
      this.draining = false
    }
  }
}
