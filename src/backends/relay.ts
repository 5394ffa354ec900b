/**
 * The host side of a learner server's connection path. The learner's program runs with no network of its own,
 * so the backend owns 127.0.0.1:<port> and carries every connection into the sandbox as frames (mux.ts) over a
 * socket pair it created before the sandbox started; relay.py inside connects each one to 127.0.0.1:PORT there.
 * The backend never resolves a path inside the sandbox (a symlink there would point anywhere on the host).
 *
 * Everything that comes back is untrusted: frames are checked, each connection may have at most WINDOW bytes
 * waiting for its client, and the frames waiting for the sandbox are capped, so this side's memory is bounded
 * per server whatever the sandbox does; so is the work its frames cause per second (mux.ts, FrameBudget). At
 * most `maxConnections` are carried at once; others are closed as they arrive, before anything reaches the
 * sandbox.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net'
import {
  ackedBytes,
  ackFrame,
  encodeFrame,
  FRAME_UNITS_PER_SECOND,
  FrameBudget,
  frameCost,
  FrameReader,
  Kind,
  MAX_PAYLOAD,
  WINDOW,
  type Frame,
} from './mux'

export interface Relay {
  /** The loopback port it listens on (the one asked for, or the one the system chose for 0). */
  readonly port: number
  /** Starts carrying connections over the channel `fd` (ours; closed with the relay). */
  attach(fd: number): void
  /** Closes the port, every connection and the channel. */
  close(): void
}

export interface RelayOptions {
  maxConnections: number
  /** Called once when the sandbox breaks the protocol or stops reading; its connections are closed by then. */
  onBroken?: (reason: string) => void
}

interface Connection {
  socket: Socket
  /** Bytes this side may still send into the sandbox. */
  credit: number
  /** Bytes from the sandbox handed to the socket and not yet written out (acknowledged once they are). */
  unacked: number
  /** The sandbox sent END: its side is done, the socket is ending. */
  ended: boolean
  /** The client half-closed: END went to the sandbox. */
  clientEnded: boolean
}

type ChannelSocket = Bun.Socket<undefined>

/**
 * Listens on 127.0.0.1:`port` (rejects with the system error, code EADDRINUSE, when anyone already listens
 * there: binding is the only race-free check). Connections before attach() are closed like a port nobody
 * listens on yet.
 */
export async function listenRelay(port: number, { maxConnections, onBroken }: RelayOptions): Promise<Relay> {
  /** Connections that count against the limit, by the id the sandbox knows them by. */
  const connections = new Map<number, Connection>()
  /** Every client socket still open, counted or not: a closed relay ends them all. */
  const sockets = new Set<Socket>()
  const reader = new FrameReader()
  const budget = new FrameBudget(FRAME_UNITS_PER_SECOND)
  let paused: Timer | undefined
  // Past this, the sandbox is not reading what we send: every carried byte is bounded by a window, so a
  // cooperating relay never gets near it.
  const maxQueued = maxConnections * (WINDOW + MAX_PAYLOAD) + 1024 * 1024
  let channel: ChannelSocket | null = null
  let queue: Uint8Array[] = []
  let queued = 0
  let nextId = 1
  /** Until the channel ends, breaks, or the relay is closed. */
  let open = true

  function send(frame: Uint8Array) {
    if (!open || !channel) return
    if (queue.length === 0) {
      const written = channel.write(frame)
      if (written === frame.length) return
      frame = frame.subarray(Math.max(0, written))
    }
    queue.push(frame)
    queued += frame.length
    if (queued > maxQueued) hangUp('the sandbox does not read its relay channel')
  }

  function flush() {
    while (channel && queue.length) {
      const written = channel.write(queue[0]!)
      if (written <= 0) return
      queued -= written
      if (written < queue[0]!.length) return void (queue[0] = queue[0]!.subarray(written))
      queue.shift()
    }
  }

  /** Ends every connection and the channel; the port stays ours and closes new connections at once. */
  function hangUp(reason?: string) {
    if (!open) return
    open = false
    clearTimeout(paused)
    for (const socket of sockets) socket.destroy()
    sockets.clear()
    connections.clear()
    channel?.end()
    queue = []
    queued = 0
    if (reason) onBroken?.(reason)
  }

  function carry(socket: Socket) {
    if (!open || !channel || connections.size >= maxConnections) return void socket.destroy()
    sockets.add(socket)
    const id = nextId++
    const connection: Connection = { socket, credit: WINDOW, unacked: 0, ended: false, clientEnded: false }
    connections.set(id, connection)
    send(encodeFrame(Kind.open, id))
    socket.on('data', (chunk: Buffer) => {
      for (let at = 0; at < chunk.length; at += MAX_PAYLOAD) {
        send(encodeFrame(Kind.data, id, chunk.subarray(at, at + MAX_PAYLOAD)))
      }
      // May overshoot the window by less than one read; the sandbox's buffer allows for it.
      connection.credit -= chunk.length
      if (connection.credit <= 0) socket.pause()
    })
    socket.on('end', () => {
      send(encodeFrame(Kind.end, id))
      connection.clientEnded = true
      if (connection.ended) forget(id, connection)
    })
    socket.on('error', () => socket.destroy())
    socket.on('close', () => {
      sockets.delete(socket)
      if (connections.get(id) !== connection) return
      connections.delete(id)
      send(encodeFrame(Kind.close, id))
    })
  }

  /**
   * Stops counting a connection once both directions have ended (before this side's FIN goes out, so a client
   * that sees its connection end can count on the slot being free), or once it closed.
   */
  function forget(id: number, connection: Connection) {
    if (connections.get(id) === connection) connections.delete(id)
  }

  function receive({ kind, id, payload }: Frame) {
    const connection = connections.get(id)
    if (kind === Kind.open) return hangUp('the sandbox sent an open frame')
    if (!connection) return // closed on this side while the frame was under way
    const { socket } = connection
    if (kind === Kind.data) {
      if (connection.ended) return
      connection.unacked += payload.length
      if (connection.unacked > WINDOW) return void socket.destroy() // the sandbox ignored the window
      socket.write(payload, () => {
        if (connections.get(id) !== connection) return
        connection.unacked -= payload.length
        send(ackFrame(id, payload.length))
      })
    } else if (kind === Kind.ack) {
      connection.credit += ackedBytes({ kind, id, payload })
      if (connection.credit > 0) socket.resume()
    } else if (kind === Kind.end) {
      connection.ended = true
      if (connection.clientEnded) forget(id, connection)
      socket.end()
    } else if (connection.ended) {
      // close after end: the learner's server is done with it; let what was written reach the client first.
      forget(id, connection)
    } else {
      connections.delete(id)
      socket.destroy()
    }
  }

  const server = createServer({ allowHalfOpen: true }, carry)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })

  const relay: Relay = {
    port: (server.address() as AddressInfo).port,
    attach(fd) {
      // Bun makes extra 'pipe' stdio entries socket pairs (relay.py fails visibly if one is not). Bun.connect
      // adopts the fd and closes it with the socket; node:net cannot wrap an inherited socket pair.
      const connect = Bun.connect as unknown as (options: object) => Promise<ChannelSocket>
      void connect({
        fd,
        allowHalfOpen: true,
        socket: {
          data(socket: ChannelSocket, chunk: Uint8Array) {
            let cost = 0
            try {
              for (const frame of reader.push(chunk)) {
                cost += frameCost(frame)
                receive(frame)
              }
            } catch (error) {
              return hangUp(`bad frame from the sandbox: ${(error as Error).message}`)
            }
            const pauseMs = budget.spend(cost)
            if (pauseMs === 0 || !open) return
            socket.pause()
            paused = setTimeout(() => open && socket.resume(), pauseMs)
          },
          drain: flush,
          end: () => hangUp(),
          close: () => hangUp(),
          error: () => hangUp(),
        },
      }).then(
        (socket) => (open ? void (channel = socket) : socket.end()),
        () => hangUp(),
      )
    },
    close() {
      hangUp()
      server.close()
    },
  }
  return relay
}
