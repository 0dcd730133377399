import { StreamState, YamuxStream } from '@libp2p/yamux/stream'

/**
 * Yamux flow control as go-yamux, rust-yamux and py-libp2p do it: a receiver tells the sender it
 * may send more (a WINDOW_UPDATE frame) once half or more of its receive window has been consumed.
 * `@libp2p/yamux` 8 sends one after every data frame it receives, so every small
 * message costs a second muxer frame — another encryption, two more socket writes and a decryption
 * at the far end; for taskmesh's many small frames (steals, completions, copies, gossip) that was
 * about half of all the frames on a connection.
 *
 * Frames with flags (a stream's SYN/ACK) and paused streams take the library's own path, which
 * also grows the window when data flows fast; a sender can never stall, since the update leaves
 * while it still has half a window to send.
 */
type WindowStream = {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
}

const proto = YamuxStream.prototype as unknown as {
  sendWindowUpdate(this: WindowStream): void
  __taskmeshHalfWindow?: true
}

if (proto.__taskmeshHalfWindow !== true) {
  const original = proto.sendWindowUpdate
  proto.sendWindowUpdate = function sendWindowUpdateAtHalf(this: WindowStream): void {
    // only an established stream sends a bare update (getSendFlags() would change the state to tell)
    const established = this.state === StreamState.Established
    if (established && this.recvWindowCapacity > this.recvWindow / 2) return
    original.call(this)
  }
  proto.__taskmeshHalfWindow = true
}
