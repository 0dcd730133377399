import type { Stream } from '@libp2p/interface'
import { encode as lpEncode } from 'it-length-prefixed'

/**
 * Writes length-prefixed frames to a stream, coalescing every frame written in one synchronous run
 * into one `send` (one muxer frame, one encryption, one socket write instead of one each), and
 * waiting for the stream to drain when it says so.
 */
export class FrameWriter {
  private queued: Uint8Array[] = []
  private tail: Promise<void> = Promise.resolve()
  private scheduled = false
  private draining = false

  constructor(
    private readonly stream: Stream,
    private readonly onError: (err: Error) => void,
  ) {}

  write(frame: Uint8Array): void {
    this.queued.push(lpEncode.single(frame).subarray())
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
    const frames = this.queued
    this.queued = []
    if (frames.length === 0) return
    const bytes = frames.length === 1 ? frames[0] : Buffer.concat(frames)
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
