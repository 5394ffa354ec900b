/**
 * A WebSocket client for tests, with promises instead of callbacks: `next()` resolves with the next frame
 * (already received or still to come), `response()` with every frame up to and including the terminal one.
 *
 * @example
 * const ws = await connectWs(`ws://127.0.0.1:${app.server!.port}/ws/chat`)
 * ws.send({ messages: [{ role: 'user', content: 'Hi' }] })
 * expect((await ws.response()).at(-1).type).toBe('complete')
 */
export interface WsClient {
  /** Objects are sent as JSON text, strings as they are. */
  send(frame: unknown): void
  next(): Promise<any>
  /** Frames up to and including the next `complete` or `error`. */
  response(): Promise<any[]>
  /** Every frame received so far. */
  frames: any[]
  /** Resolves when the socket is closed (by either side). */
  closed: Promise<number>
  close(): Promise<number>
  socket: WebSocket
}

const TERMINAL = new Set(['complete', 'error'])

export function connectWs(url: string): Promise<WsClient> {
  const socket = new WebSocket(url)
  const frames: any[] = []
  let read = 0
  let waiter: (() => void) | undefined
  const closed = Promise.withResolvers<number>()

  socket.addEventListener('message', (event) => {
    frames.push(JSON.parse(String(event.data)))
    waiter?.()
  })
  socket.addEventListener('close', (event) => {
    closed.resolve(event.code)
    waiter?.()
  })

  const next = async (): Promise<any> => {
    while (read >= frames.length) {
      if (socket.readyState === WebSocket.CLOSED) throw new Error('socket closed while waiting for a frame')
      await new Promise<void>((resolve) => (waiter = resolve))
    }
    return frames[read++]
  }

  const client: WsClient = {
    send: (frame) => socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    next,
    async response() {
      const out: any[] = []
      do out.push(await next())
      while (!TERMINAL.has(out.at(-1).type))
      return out
    },
    frames,
    closed: closed.promise,
    close() {
      socket.close()
      return closed.promise
    },
    socket,
  }
  return new Promise((resolve, reject) => {
    socket.addEventListener('open', () => resolve(client), { once: true })
    socket.addEventListener('error', () => reject(new Error(`could not connect to ${url}`)), { once: true })
  })
}
