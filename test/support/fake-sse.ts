/**
 * The core shared by the fake model servers (fake-openai.ts, fake-anthropic.ts): a Bun server on 127.0.0.1,
 * port 0, that records every request and answers each one from a per-test script, streaming SSE through a
 * Feed. A Feed is either filled up front (a scripted answer) or driven by the test step by step, and it
 * records when the client cancels the response stream (the proof that an abort reached the upstream).
 */
export interface FakeUsage {
  prompt: number
  completion: number
}

export type FeedEvent =
  | { kind: 'text'; text: string }
  | { kind: 'finish'; reason?: string; usage?: FakeUsage | null }
  /** Ends the body cleanly but without the vendor's end marker. */
  | { kind: 'cut' }
  /** Breaks the body with a transport error mid-way. */
  | { kind: 'break' }
  /** The vendor's in-stream error event. */
  | { kind: 'error'; message: string; type?: string }

const TERMINAL = new Set(['finish', 'cut', 'break', 'error'])

/** What one response streams; push events any time, the server sends them as they come. */
export class Feed {
  private readonly events: FeedEvent[] = []
  private wake: (() => void) | undefined
  private readonly cancel = Promise.withResolvers<void>()
  private readonly open = Promise.withResolvers<void>()
  isCancelled = false

  /** Resolves when the client cancelled the response (aborted request or closed connection). */
  readonly cancelled = this.cancel.promise
  /** Resolves when a request was answered with this feed. */
  readonly started = this.open.promise

  push(...texts: string[]): this {
    for (const text of texts) this.add({ kind: 'text', text })
    return this
  }
  finish(reason?: string, usage?: FakeUsage | null): this {
    return this.add({ kind: 'finish', reason, usage })
  }
  cut(): this {
    return this.add({ kind: 'cut' })
  }
  break(): this {
    return this.add({ kind: 'break' })
  }
  fail(message: string, type?: string): this {
    return this.add({ kind: 'error', message, type })
  }

  /** @internal used by the server */
  markStarted() {
    this.open.resolve()
  }
  /** @internal used by the server */
  markCancelled() {
    this.isCancelled = true
    this.cancel.resolve()
    this.wake?.()
  }
  /** @internal next event, waiting for the test to push one */
  async next(): Promise<FeedEvent | undefined> {
    while (this.events.length === 0 && !this.isCancelled) {
      await new Promise<void>((resolve) => (this.wake = resolve))
    }
    return this.events.shift()
  }

  private add(event: FeedEvent): this {
    this.events.push(event)
    const wake = this.wake
    this.wake = undefined
    wake?.()
    return this
  }
}

/** A whole answer: text split in a few pieces, then the finish. */
export function answer(
  text: string,
  options: { pieces?: number; reason?: string; usage?: FakeUsage | null } = {},
): Feed {
  const count = options.pieces ?? 4
  const size = Math.max(1, Math.ceil(text.length / count))
  const feed = new Feed()
  for (let i = 0; i < text.length; i += size) feed.push(text.slice(i, i + size))
  return feed.finish(options.reason, options.usage === undefined ? { prompt: 11, completion: 7 } : options.usage)
}

export interface HttpFailure {
  status: number
  message: string
  type?: string
}

export type Reply = Feed | HttpFailure

export interface Recorded {
  path: string
  body: Record<string, any>
  headers: Headers
}

/** How a vendor puts feed events on the wire. */
export interface Dialect {
  path: string
  /** Events before the first text. */
  open(body: Record<string, any>): string[]
  text(text: string, body: Record<string, any>): string
  finish(reason: string | undefined, usage: FakeUsage | null | undefined, body: Record<string, any>): string[]
  error(message: string, type: string | undefined): string
  failure(failure: HttpFailure): Response
}

export interface FakeServer {
  /** Base URL for the SDK (`.../v1` for OpenAI, the origin for Anthropic). */
  url: string
  requests: Recorded[]
  stop(): void
}

const encoder = new TextEncoder()

export function startFakeServer(
  dialect: Dialect,
  baseURL: (port: number) => string,
  script: Reply[] | ((request: Recorded, index: number) => Reply),
): FakeServer {
  const requests: Recorded[] = []
  const replyFor = (request: Recorded, index: number): Reply =>
    typeof script === 'function'
      ? script(request, index)
      : (script[index] ?? { status: 500, message: 'The fake has no more scripted replies' })

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname
      if (request.method !== 'POST' || path !== dialect.path) {
        return Response.json({ error: { message: `No route ${request.method} ${path}` } }, { status: 404 })
      }
      const recorded: Recorded = { path, body: (await request.json()) as Record<string, any>, headers: request.headers }
      requests.push(recorded)
      const reply = replyFor(recorded, requests.length - 1)
      if (!(reply instanceof Feed)) return dialect.failure(reply)
      const feed = reply
      feed.markStarted()
      request.signal.addEventListener('abort', () => feed.markCancelled(), { once: true })
      let opened = false
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (!opened) {
            opened = true
            for (const line of dialect.open(recorded.body)) controller.enqueue(encoder.encode(line))
          }
          const event = await feed.next()
          if (!event || feed.isCancelled) return controller.close()
          switch (event.kind) {
            case 'text':
              controller.enqueue(encoder.encode(dialect.text(event.text, recorded.body)))
              break
            case 'finish':
              for (const line of dialect.finish(event.reason, event.usage, recorded.body))
                controller.enqueue(encoder.encode(line))
              break
            case 'error':
              controller.enqueue(encoder.encode(dialect.error(event.message, event.type)))
              break
            case 'break':
              controller.error(new Error('connection broken by the fake'))
              return
          }
          if (TERMINAL.has(event.kind)) controller.close()
        },
        cancel() {
          feed.markCancelled()
        },
      })
      return new Response(body, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } })
    },
  })
  return { url: baseURL(server.port!), requests, stop: () => server.stop(true) }
}

export const sse = (data: unknown, event?: string) =>
  `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`
