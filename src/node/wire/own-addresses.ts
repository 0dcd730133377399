import type { MeshLibp2p } from './libp2p-factory.ts'

/** libp2p events after which this node's dialable addresses may differ. */
const ADDRESS_EVENTS = ['self:peer:update', 'transport:listening', 'transport:close'] as const

/**
 * This node's dialable multiaddrs (with its /p2p/ id), read from libp2p once and kept until
 * libp2p says they may have changed (a transport listening or closing, the node's own peer
 * record updated). Status is polled — by dashboards, metrics scrapes, waiting scripts — and
 * libp2p's address manager rebuilds the list at every read (0.3 ms a status on a busy node).
 */
export class OwnAddresses {
  private known: string[] | undefined
  private readonly forget = (): void => {
    this.known = undefined
  }

  constructor(private readonly libp2p: MeshLibp2p) {
    for (const event of ADDRESS_EVENTS) libp2p.addEventListener(event, this.forget)
  }

  /** The addresses now (a fresh array: callers may keep or change it). */
  list(): string[] {
    this.known ??= this.libp2p.getMultiaddrs().map((a) => a.toString())
    return [...this.known]
  }
}
