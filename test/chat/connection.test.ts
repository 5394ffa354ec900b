/**
 * ChatConnection without a network: a recording socket and a provider the test drives part by part, to check
 * backpressure, heartbeat and abort-on-close precisely.
 */
import { describe, expect, test } from 'bun:test'
import { ChatConnection, MAX_QUEUED, type FrameSocket } from '../../src/chat/connection'
import type { ChatProvider, ProviderRegistry, StreamPart } from '../../src/providers/provider'
import { memoryLogger } from '../support/services'

/** A provider whose stream yields what the test pushes; records how often it was pulled and the signal. */
function drivenProvider() {
  const parts: StreamPart[] = []
  let wake: (() => void) | undefined
  const state = { pulls: 0, signal: undefined as AbortSignal | undefined }
  const provider: ChatProvider = {
    name: 'driven',
    async *stream(_request, signal) {
      state.signal = signal
      while (true) {
        while (parts.length === 0) {
          if (signal?.aborted) return
          await new Promise<void>((resolve) => {
            wake = resolve
            signal?.addEventListener('abort', () => resolve(), { once: true })
          })
        }
        const part = parts.shift()!
        state.pulls++
        yield part
        if (part.type !== 'text-delta') return
      }
    },
  }
  const registry: ProviderRegistry = { resolve: (model = 'm') => ({ provider, model }), health: () => ({}), close() {} }
  const push = (...more: StreamPart[]) => {
    parts.push(...more)
    wake?.()
  }
  return { registry, state, push }
}

/** A socket that records frames; `status` decides what send returns (Bun: -1 means backpressure). */
function recordingSocket() {
  const frames: any[] = []
  let waiter: { count: number; resolve: () => void } | undefined
  const socket: FrameSocket & {
    status: number
    pings: number
    pinged: PromiseWithResolvers<void>
    closedWith?: number
  } = {
    status: 1,
    pings: 0,
    pinged: Promise.withResolvers<void>(),
    send(text: string) {
      frames.push(JSON.parse(text))
      if (waiter && frames.length >= waiter.count) waiter.resolve()
      return socket.status
    },
    ping() {
      socket.pings++
      socket.pinged.resolve()
    },
    close(code?: number) {
      socket.closedWith = code
    },
  }
  /** Resolves once `count` frames were sent. */
  const sent = (count: number) =>
    new Promise<void>((resolve) => {
      if (frames.length >= count) resolve()
      else waiter = { count, resolve }
    })
  return { socket, frames, sent }
}

/** Lets every pending callback run: enough for a connection that is not blocked to send its next frame. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
}

const request = { messages: [{ role: 'user', content: 'hi' }], mode: 'chat' }
const text = (t: string): StreamPart => ({ type: 'text-delta', text: t })

describe('ChatConnection', () => {
  test('waits for drain after a send that reports backpressure, and reads no further upstream meanwhile', async () => {
    const { registry, state, push } = drivenProvider()
    const { socket, frames, sent } = recordingSocket()
    const connection = new ChatConnection(socket, { providers: registry, logger: memoryLogger(), heartbeatMs: 60_000 })
    socket.status = -1
    connection.receive(request)
    push(text('a'), text('b'), text('c'), { type: 'finish', reason: 'stop' })
    await sent(1)
    await settle()
    expect(frames).toEqual([{ type: 'chunk', content: 'a' }])
    expect(state.pulls).toBe(1)
    socket.status = 1
    connection.drained()
    await sent(4)
    expect(frames.map((f) => f.content)).toEqual(['a', 'b', 'c', 'abc'])
    connection.close()
  })

  test('a dropped send closes the connection and aborts the model request', async () => {
    const { registry, state, push } = drivenProvider()
    const { socket, sent } = recordingSocket()
    const connection = new ChatConnection(socket, { providers: registry, logger: memoryLogger(), heartbeatMs: 60_000 })
    socket.status = 0
    connection.receive(request)
    push(text('a'))
    await sent(1)
    expect(socket.closedWith).toBe(1011)
    expect(state.signal?.aborted).toBe(true)
  })

  test('pings on the heartbeat interval until closed', async () => {
    const { registry } = drivenProvider()
    const { socket } = recordingSocket()
    const connection = new ChatConnection(socket, { providers: registry, logger: memoryLogger(), heartbeatMs: 1 })
    await socket.pinged.promise
    connection.close()
    const pings = socket.pings
    await settle()
    expect(socket.pings).toBe(pings)
  })

  test('close aborts the request being served and sends nothing more', async () => {
    const { registry, state, push } = drivenProvider()
    const { socket, frames, sent } = recordingSocket()
    const connection = new ChatConnection(socket, { providers: registry, logger: memoryLogger(), heartbeatMs: 60_000 })
    connection.receive(request)
    push(text('a'))
    await sent(1)
    connection.close()
    expect(state.signal?.aborted).toBe(true)
    await settle()
    expect(frames).toEqual([{ type: 'chunk', content: 'a' }])
  })

  test(`more than ${MAX_QUEUED} waiting requests are refused with an error frame`, async () => {
    const { registry } = drivenProvider()
    const { socket, frames, sent } = recordingSocket()
    const connection = new ChatConnection(socket, { providers: registry, logger: memoryLogger(), heartbeatMs: 60_000 })
    for (let i = 0; i <= MAX_QUEUED + 1; i++) connection.receive({ ...request, id: i })
    await sent(1)
    expect(frames).toEqual([expect.objectContaining({ type: 'error', error_type: 'busy', id: MAX_QUEUED + 1 })])
    connection.close()
  })

  test('a turn is logged with its outcome, never with its content', async () => {
    const { registry, push } = drivenProvider()
    const { socket, sent } = recordingSocket()
    const logger = memoryLogger()
    const connection = new ChatConnection(socket, { providers: registry, logger, heartbeatMs: 60_000 })
    connection.receive(request)
    push(text('secret answer'), { type: 'finish', reason: 'stop' })
    await sent(2)
    const line = await logger.next((l) => l.msg === 'chat turn')
    expect(line).toMatchObject({ model: 'm', mode: 'chat', outcome: 'complete', frames: 1 })
    expect(JSON.stringify(logger.lines)).not.toContain('secret')
    connection.close()
  })
})
