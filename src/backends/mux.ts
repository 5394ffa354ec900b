/**
 * The frames that carry a learner server's connections between the backend and its sandbox, over one socket
 * pair the backend creates before the sandbox starts (fd 4 of serve.py; relay.py is the other end). No path is
 * involved: a socket in the sandbox's /tmp could be swapped for a symlink to any host socket.
 *
 * A frame is a 9-byte header — kind (1 byte), connection id (4), payload length (4), big-endian — and the
 * payload. Each direction of a connection may have at most WINDOW bytes that the receiver has not acknowledged,
 * so neither side buffers more than that per connection, whatever the other side does.
 *
 * @example
 * const reader = new FrameReader()
 * for (const frame of reader.push(chunk)) handle(frame) // throws ProtocolError on a malformed frame
 */
export const Kind = {
  /** backend → sandbox: connect a new connection to 127.0.0.1:PORT inside. */
  open: 1,
  /** both ways: bytes of a connection. */
  data: 2,
  /** both ways: the sender sends no more bytes on this connection (half-close). */
  end: 3,
  /** both ways: the connection is gone (reset, refused, or closed); forget it. */
  close: 4,
  /** both ways: payload = 4-byte count of bytes consumed; the other side may send that many more. */
  ack: 5,
} as const
export type Kind = (typeof Kind)[keyof typeof Kind]

export const HEADER_BYTES = 9
export const MAX_PAYLOAD = 64 * 1024
export const WINDOW = 256 * 1024

export interface Frame {
  kind: Kind
  id: number
  payload: Uint8Array
}

export class ProtocolError extends Error {}

/**
 * Work a sandbox may cause the backend per second, in frame units: every frame costs 1, and 1 more per 16 KiB
 * of payload. 10,000 allow 128 MB/s in full frames, or 10,000 tiny ones; a flood of tiny frames (measured:
 * 2.2 million a second of 13-byte acks took 64% of a CPU and /health p99 to 60 ms) is slowed to that rate.
 */
export const FRAME_UNITS_PER_SECOND = 10_000

export const frameCost = (frame: Frame) => 1 + frame.payload.length / 16_384

/**
 * A token bucket over frame units. `spend` answers how long to stop reading (ms) until the balance is back at
 * zero; reading stops, so a flooding sandbox blocks on its own writes.
 *
 * @example
 * const budget = new FrameBudget(10_000)
 * const pauseMs = budget.spend(frames.reduce((sum, frame) => sum + frameCost(frame), 0))
 */
export class FrameBudget {
  private balance: number
  private last: number

  constructor(
    private readonly perSecond: number,
    now = performance.now(),
  ) {
    this.balance = perSecond
    this.last = now
  }

  spend(cost: number, now = performance.now()): number {
    this.balance = Math.min(this.perSecond, this.balance + ((now - this.last) / 1000) * this.perSecond) - cost
    this.last = now
    return this.balance >= 0 ? 0 : (-this.balance / this.perSecond) * 1000
  }
}

const KINDS = new Set<number>(Object.values(Kind))

export function encodeFrame(kind: Kind, id: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const frame = new Uint8Array(HEADER_BYTES + payload.length)
  const view = new DataView(frame.buffer)
  view.setUint8(0, kind)
  view.setUint32(1, id)
  view.setUint32(5, payload.length)
  frame.set(payload, HEADER_BYTES)
  return frame
}

export function ackFrame(id: number, bytes: number): Uint8Array {
  const payload = new Uint8Array(4)
  new DataView(payload.buffer).setUint32(0, bytes)
  return encodeFrame(Kind.ack, id, payload)
}

/** The byte count an ack frame carries. */
export const ackedBytes = (frame: Frame) => new DataView(frame.payload.buffer, frame.payload.byteOffset).getUint32(0)

/**
 * Cuts a byte stream into frames. The sandbox side is hostile: a bad kind, a payload over MAX_PAYLOAD or an ack
 * of the wrong size is a ProtocolError. Work is linear in the bytes received however they are split (a payload
 * dribbled in one byte at a time is filled in place, never re-joined), and at most one frame is ever held.
 */
export class FrameReader {
  private readonly header = new Uint8Array(HEADER_BYTES)
  private headerFill = 0
  private current: { kind: Kind; id: number; payload: Uint8Array; fill: number } | null = null

  /** The frames `chunk` completes, in order. */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = []
    let at = 0
    while (at < chunk.length) {
      if (!this.current) {
        const take = Math.min(HEADER_BYTES - this.headerFill, chunk.length - at)
        this.header.set(chunk.subarray(at, at + take), this.headerFill)
        this.headerFill += take
        at += take
        if (this.headerFill < HEADER_BYTES) break
        this.headerFill = 0
        this.current = this.parseHeader()
      }
      const frame = this.current
      const take = Math.min(frame.payload.length - frame.fill, chunk.length - at)
      frame.payload.set(chunk.subarray(at, at + take), frame.fill)
      frame.fill += take
      at += take
      if (frame.fill < frame.payload.length) break
      this.current = null
      frames.push({ kind: frame.kind, id: frame.id, payload: frame.payload })
    }
    return frames
  }

  private parseHeader() {
    const view = new DataView(this.header.buffer)
    const kind = view.getUint8(0)
    const id = view.getUint32(1)
    const length = view.getUint32(5)
    if (!KINDS.has(kind)) throw new ProtocolError(`unknown frame kind ${kind}`)
    if (length > MAX_PAYLOAD) throw new ProtocolError(`frame payload of ${length} bytes`)
    if (kind === Kind.ack ? length !== 4 : kind !== Kind.data && length !== 0) {
      throw new ProtocolError(`frame kind ${kind} with ${length} payload bytes`)
    }
    // Each frame gets its own payload buffer: the consumer may keep it (a socket write that waits).
    return { kind: kind as Kind, id, payload: new Uint8Array(length), fill: 0 }
  }
}
