/**
 * The host side of a learner server's connection path. The learner's program runs with no network of its own,
 * so the backend owns 127.0.0.1:<port> and pipes each connection to a Unix socket serve.py listens on inside the
 * sandbox's private /tmp (reached from the host through /proc/<pid>/root); serve.py relays it on to
 * 127.0.0.1:PORT inside. node:net streams are used (not Bun.listen) for
 * `pipe`: backpressure and half-close in both directions come with it.
 */
import { closeSync } from 'node:fs'
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
 * Listens on 127.0.0.1:`port` and relays every connection to the Unix socket `target()` names (resolved per
 * connection: the sandbox it lives in is spawned after the port is claimed; null refuses the connection). Rejects
 * (with the system error, code EADDRINUSE) when anyone already listens there: binding is the only race-free check.
 */
export async function listenRelay(port: number, target: () => string | null): Promise<Listener> {
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const path = target()
    if (!path) return void client.destroy()
    const upstream = connect(path)
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

/**
 * Watches the ready channel: a pipe (fd 3 in the child) on which serve.py writes once something listens on PORT.
 * `ready` resolves on the first byte and never on end of file. The learner's code can write there too; that can
 * only make its own start request return early, so what arrives is not read. The fd is ours (Bun hands over
 * extra stdio fds) and is closed exactly once, when the first byte or end of file arrives.
 */
export function watchReady(fd: number): { ready: Promise<void> } {
  let signal!: () => void
  const ready = new Promise<void>((resolve) => (signal = resolve))
  void (async () => {
    const reader = Bun.file(fd).stream().getReader()
    try {
      if (!(await reader.read()).done) signal()
      await reader.cancel()
    } catch {
      // a reset channel is the same as no signal
    } finally {
      closeSync(fd)
    }
  })()
  return { ready }
}
