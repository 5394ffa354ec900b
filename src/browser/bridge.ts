/**
 * The DevTools bridge between playwright (in this server) and Chromium (in its sandbox): a one-client WebSocket on
 * 127.0.0.1 with a random path, whose messages go to the browser's fd 3 and come back from its fd 4, each ended by
 * a NUL byte (`--remote-debugging-pipe`).
 *
 * Everything the browser sends is shaped by the pages it runs, and one browser serves every learner's page, so
 * this is where a page's traffic is bounded (src/browser/launch.ts starts the browser):
 * - console messages, log entries and uncaught exceptions are dropped whole: we never read them, and playwright
 *   would keep the last 200 of each per page (40 × 30 MB strings took the server to 1.7 GB);
 * - any other message over its limit is discarded as it streams (never held whole) and only its page feels it:
 *   an answer to a command becomes a protocol error for that command, a paused request carrying a huge body is
 *   answered 413 from here, any other event is dropped. The browser lives on;
 * - nothing more is read from the browser while playwright's side of the socket is full (backpressure), so the
 *   server holds at most a few messages in flight whatever pages do.
 */
import type { Boxed } from '../sandbox'
import { closedWithin } from './within'

export interface BridgeLimits {
  /** Largest answer to a command (an evaluation's result: what a page can make large). */
  response: number
  /** Largest answer to Page.captureScreenshot (a tall PNG; screenshot.ts bounds what it keeps). */
  screenshot: number
  /** Largest event (a request with its body, a navigation). */
  event: number
}

export const BRIDGE_LIMITS: BridgeLimits = { response: 4 << 20, screenshot: 32 << 20, event: 4 << 20 }

/** Events playwright would keep (and we never read): dropped whatever their size. */
const DROPPED_EVENTS = new Set(['Runtime.consoleAPICalled', 'Log.entryAdded', 'Runtime.exceptionThrown'])
/** Bytes at the start of a message enough to tell an answer (`{"id":7,`) from an event (`{"method":"X",`). */
const HEAD_BYTES = 512
/** Chromium appends `,"sessionId":"<32 hex>"` at the end of a message of a page's session. */
const TAIL_BYTES = 128
/** How long a browser whose DevTools pipe closed may take to end on its own before it is killed. */
const WIND_DOWN_MS = 2000
/** Ids of the commands the bridge itself sends; playwright counts from 1 and never gets near. */
const OWN_IDS_FROM = 2_000_000_000

export interface BridgeStats {
  /** Console messages, log entries and exceptions dropped. */
  dropped: number
  /** Messages over their limit, discarded. */
  oversized: number
  /** Bytes of what was dropped or discarded: how much a page made the browser serialize for nothing. */
  discardedBytes: number
}

interface Kind {
  id?: number
  method?: string
  limit: number
}

/**
 * Splits the browser's byte stream into messages and decides each one's fate (see the file's comment).
 * `forward` hands a whole message to playwright (false: its side is full, stop reading); `reply` sends a
 * command to the browser on the bridge's own account.
 */
export function createMessageFilter(options: {
  limits?: BridgeLimits
  forward(message: Uint8Array): boolean
  reply(message: string): void
}) {
  const limits = options.limits ?? BRIDGE_LIMITS
  const decoder = new TextDecoder()
  /** Method of each command playwright sent and the browser has not answered yet, by id. */
  const pending = new Map<number, string>()
  const stats: BridgeStats = { dropped: 0, oversized: 0, discardedBytes: 0 }
  let ownId = OWN_IDS_FROM
  let parts: Uint8Array[] = []
  let size = 0
  let kind: Kind | null = null
  let head = ''
  let discarding = false
  let tail: Uint8Array = new Uint8Array(0)
  let room = true

  function classify(start: Uint8Array): Kind {
    head = decoder.decode(start.subarray(0, HEAD_BYTES))
    const answer = /^\{"id":(\d+)[,}]/.exec(head)
    if (answer) {
      const id = Number(answer[1])
      const method = pending.get(id)
      pending.delete(id)
      return { id, limit: method === 'Page.captureScreenshot' ? limits.screenshot : limits.response }
    }
    const method = /^\{"method":"([\w.]+)"/.exec(head)?.[1]
    return { method, limit: method && DROPPED_EVENTS.has(method) ? -1 : limits.event }
  }

  const joined = () => (parts.length === 1 ? parts[0]! : Buffer.concat(parts))

  function take(piece: Uint8Array) {
    size += piece.length
    if (discarding) {
      keepTail(piece)
      return
    }
    parts.push(piece)
    if (kind === null && size >= HEAD_BYTES) kind = classify(joined())
    if (kind && size > kind.limit) {
      discarding = true
      tail = new Uint8Array(0)
      for (const part of parts) keepTail(part)
      parts = []
    }
  }

  function keepTail(piece: Uint8Array) {
    const both = tail.length + piece.length <= TAIL_BYTES ? Buffer.concat([tail, piece]) : null
    tail = both ?? Buffer.concat([tail, piece.subarray(Math.max(0, piece.length - TAIL_BYTES))]).subarray(-TAIL_BYTES)
  }

  function finish() {
    if (!discarding) {
      const message = joined()
      kind ??= classify(message)
      if (kind.limit < 0) {
        stats.dropped++
        stats.discardedBytes += size
      } else if (kind.id === undefined || kind.id < OWN_IDS_FROM) room = options.forward(message) && room
    } else {
      stats.discardedBytes += size
      if (kind!.limit < 0) stats.dropped++
      else oversized(kind!)
    }
    parts = []
    size = 0
    kind = null
    discarding = false
  }

  function oversized({ id, method, limit }: Kind) {
    stats.oversized++
    const sessionId = /"sessionId":"([\w-]+)"\}\s*$/.exec(decoder.decode(tail))?.[1]
    const session = sessionId ? `,"sessionId":${JSON.stringify(sessionId)}` : ''
    if (id !== undefined) {
      if (id >= OWN_IDS_FROM) return
      const error = { code: -32000, message: `The page's answer was larger than ${limit} bytes` }
      room = options.forward(Buffer.from(`{"id":${id},"error":${JSON.stringify(error)}${session}}`)) && room
      return
    }
    // A request held for us to answer (playwright never saw it): answer it here, as page.ts does a large body.
    const requestId = /"params":\{"requestId":"([^"]+)"/.exec(head)?.[1]
    if (method === 'Fetch.requestPaused' && requestId && sessionId) {
      const params = {
        requestId,
        responseCode: 413,
        responseHeaders: [{ name: 'content-type', value: 'text/plain' }],
        body: Buffer.from('Request too large').toString('base64'),
      }
      options.reply(`{"id":${ownId++},"method":"Fetch.fulfillRequest","params":${JSON.stringify(params)}${session}}`)
    }
  }

  return {
    /** Notes a command playwright sends (`{"id":7,"method":"X",…}`), to know what its answer may weigh. */
    sent(message: string) {
      const command = /^\{"id":(\d+),"method":"([\w.]+)"/.exec(message.slice(0, HEAD_BYTES))
      if (command) pending.set(Number(command[1]), command[2]!)
    },
    /** Takes the next bytes from the browser; false when playwright's side is full (wait for it to drain). */
    push(chunk: Uint8Array): boolean {
      room = true
      for (let rest = chunk; ; ) {
        const end = rest.indexOf(0)
        if (end < 0) {
          if (rest.length) take(rest)
          return room
        }
        if (end > 0) take(rest.subarray(0, end))
        finish()
        rest = rest.subarray(end + 1)
      }
    },
    stats: () => ({ ...stats }),
  }
}

export interface Bridge {
  url: string
  stats(): BridgeStats
  /** The browser is asked to quit: its pipes closing is then no reason to kill it (it is ending on its own). */
  ending(): void
  stop(): void
}

/** Opens the bridge for the browser in `box`; the browser is killed when playwright hangs up, or it does. */
export function bridgePipes(box: Boxed, limits?: BridgeLimits): Bridge {
  const toBrowser = Bun.file(box.proc.stdio[3] as unknown as number).writer()
  const write = (message: string | Uint8Array) => {
    toBrowser.write(message)
    toBrowser.write('\0')
    void toBrowser.flush()
  }
  const token = crypto.randomUUID()
  let client: Bun.ServerWebSocket<unknown> | null = null
  let stopped = false
  let quitting = false
  let drained: (() => void) | null = null
  let filter: ReturnType<typeof createMessageFilter> | null = null
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(request, server) {
      if (client || new URL(request.url).pathname !== `/${token}`) return new Response(null, { status: 404 })
      return server.upgrade(request) ? undefined : new Response(null, { status: 400 })
    },
    websocket: {
      // playwright's own commands: small, but for fulfilling a request with a page's file (2 MiB at most).
      maxPayloadLength: 16 << 20,
      open(ws) {
        client = ws
        filter = createMessageFilter({
          limits,
          // A message is sent whole even when the socket is full (Bun queues it); then reading pauses.
          forward: (message) => ws.send(Buffer.from(message).toString('utf8')) >= 0 || ws.getBufferedAmount() === 0,
          reply: write,
        })
        void pump(ws, filter)
      },
      message(_ws, message) {
        const text = typeof message === 'string' ? message : message.toString('utf8')
        filter?.sent(text)
        write(text)
      },
      drain() {
        drained?.()
        drained = null
      },
      close() {
        if (!quitting) windDown()
        drained?.()
      },
    },
  })

  async function pump(ws: Bun.ServerWebSocket<unknown>, messages: ReturnType<typeof createMessageFilter>) {
    try {
      for await (const chunk of Bun.file(box.proc.stdio[4] as unknown as number).stream()) {
        if (!messages.push(chunk) && ws.getBufferedAmount() > 0) {
          await new Promise<void>((resolve) => (drained = resolve))
        }
      }
    } catch {
      // the browser went away
    }
    if (!quitting) windDown()
    ws.close()
  }

  /**
   * The browser ended, or playwright hung up: the sandbox gets a moment to end on its own (its first process then
   * waits for every other one, so its exit means nothing is left), and is killed if it does not.
   */
  function windDown() {
    void closedWithin(box.proc.exited, WIND_DOWN_MS).then((ended) => ended || box.kill())
  }

  return {
    url: `ws://127.0.0.1:${server.port}/${token}`,
    stats: () => filter?.stats() ?? { dropped: 0, oversized: 0, discardedBytes: 0 },
    ending() {
      quitting = true
    },
    stop() {
      if (stopped) return
      stopped = true
      drained?.()
      void Promise.resolve()
        .then(() => toBrowser.end())
        .catch(() => {})
      void server.stop(true)
    },
  }
}
