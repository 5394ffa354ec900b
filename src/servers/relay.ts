/**
 * The host side of a learner server's connection path. The learner's program runs with no network of its own,
 * so the backend owns 127.0.0.1:<port> and pipes each connection to a Unix socket in a folder shared with that
 * one sandbox; serve.py relays it on to 127.0.0.1:PORT inside. node:net streams are used (not Bun.listen) for
 * `pipe`: backpressure and half-close in both directions come with it.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'

export interface Listener {
  close(): void
}

/** Closes the server and every connection it still holds (a stopped server must not keep relayed sockets). */
function closer(server: Server, sockets: Set<Socket>): Listener {
  return {
    close() {
      server.close()
      for (const socket of sockets) socket.destroy()
      sockets.clear()
    },
  }
}

function listening(server: Server, ...address: [number, string] | [string]): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(...(address as [number, string]), () => {
      server.off('error', reject)
      resolve()
    })
  })
}

/**
 * Listens on 127.0.0.1:`port` and relays every connection to the Unix socket at `socketPath`. Rejects (with
 * the system error, code EADDRINUSE) when anyone already listens there: binding is the only race-free check.
 */
export async function listenRelay(port: number, socketPath: string): Promise<Listener> {
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(socketPath)
    for (const socket of [client, upstream]) sockets.add(socket.on('close', () => sockets.delete(socket)))
    // A failure on one side (nothing listens inside yet, or the client reset) ends the other one too.
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
    client.pipe(upstream).pipe(client)
  })
  await listening(server, port, '127.0.0.1')
  return closer(server, sockets)
}

/** Whether nothing listens on 127.0.0.1:`port` right now (for the unsandboxed mode, where Python binds it). */
export function portIsFree(port: number): Promise<boolean> {
  const probe = createServer()
  return listening(probe, port, '127.0.0.1').then(
    () => new Promise((resolve) => probe.close(() => resolve(true))),
    () => false,
  )
}

export interface ReadySignal extends Listener {
  /** Resolves when serve.py reports that the learner's program listens on PORT. */
  ready: Promise<void>
}

/**
 * A Unix socket serve.py connects to once something inside listens on PORT. The learner's code can connect to it
 * too; that can only make its own start request return early, so nothing it sends is read or trusted.
 */
export async function listenForReady(socketPath: string): Promise<ReadySignal> {
  let signal!: () => void
  const ready = new Promise<void>((resolve) => (signal = resolve))
  const server = createServer((socket) => {
    signal()
    socket.destroy()
  })
  await listening(server, socketPath)
  return { ready, close: () => server.close() }
}
