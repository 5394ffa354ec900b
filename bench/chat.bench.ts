/**
 * Chat relay benchmark: the real server (`bun src/index.ts`, a child process) relays a fake OpenAI upstream
 * (in this process, on loopback) to WebSocket clients (in this process too, so emit and receive times come from
 * one clock). Each upstream chunk carries its emit time; a client computes emit → receive on arrival.
 *
 * - latency: one chunk in flight at a time (the next is emitted when the previous one arrived), through the
 *   relay and, as the baseline, read straight from the fake upstream; "added" is the difference.
 * - throughput: one connection, the upstream writes as fast as the relay reads.
 * - concurrency: N connections (default 1,000) streaming at a steady rate at the same time.
 * Goals (docs/performance.md, "Performance"): under 1 ms added per chunk at p99; 1,000 streams with p99 under 5 ms.
 * Run: `bun bench/chat.bench.ts` (BENCH_CONNECTIONS, BENCH_SECONDS, BENCH_RATE to change the load;
 * BENCH_SERVER_FLAGS="--cpu-prof-md --cpu-prof-dir=/tmp/prof" to profile the server). Start it with
 * BUN_CONFIG_MAX_HTTP_REQUESTS=4096 so the direct baseline can hold all its streams at once.
 */
import { join, resolve } from 'node:path'
import { tmpdir } from 'node:os'

const ROOT = resolve(import.meta.dir, '..')
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 1000)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const RATE = Number(process.env.BENCH_RATE ?? 10) // chunks per second per connection
const LATENCY_SAMPLES = 2000
const THROUGHPUT_CHUNKS = 50_000

const encoder = new TextEncoder()

// ---- fake upstream: OpenAI chat-completions SSE, driven per stream by the bench ----

type Driver = (write: (text: string) => void, end: () => void, closed: () => boolean) => void
const drivers = new Map<string, Driver>()

const sseChunk = (content: string) =>
  `data: {"id":"b","object":"chat.completion.chunk","created":0,"model":"bench","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"finish_reason":null}]}\n\n`
const SSE_END =
  'data: {"id":"b","object":"chat.completion.chunk","created":0,"model":"bench","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n' +
  'data: {"id":"b","object":"chat.completion.chunk","created":0,"model":"bench","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n' +
  'data: [DONE]\n\n'

function startUpstream() {
  return Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      const body = (await request.json()) as { messages: { role: string; content: string }[] }
      const key = body.messages.at(-1)!.content
      const driver = drivers.get(key)
      if (!driver) return Response.json({ error: { message: `no driver ${key}` } }, { status: 500 })
      drivers.delete(key)
      let closed = false
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          driver(
            (text) => !closed && controller.enqueue(encoder.encode(sseChunk(text))),
            () => {
              if (closed) return
              closed = true
              controller.enqueue(encoder.encode(SSE_END))
              controller.close()
            },
            () => closed,
          )
        },
        cancel() {
          closed = true
        },
      })
      return new Response(stream, { headers: { 'content-type': 'text/event-stream' } })
    },
  })
}

// ---- the server under test ----

function freePort(): number {
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() })
  const port = server.port!
  server.stop(true)
  return port
}

async function startApp(upstreamUrl: string) {
  const port = freePort()
  // BENCH_SERVER_FLAGS: extra bun flags for the server, e.g. `--cpu-prof` to see where its time goes.
  const flags = (process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean)
  const proc = Bun.spawn([process.execPath, ...flags, join(ROOT, 'src/index.ts')], {
    cwd: tmpdir(),
    env: {
      PATH: process.env.PATH!,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      TASKS_DIR: join(ROOT, 'tasks'),
      EXEC_POOL_SIZE: '0',
      // Every stream comes from 127.0.0.1: the per-client chat rate limit would refuse all but 30 of them.
      RATE_CHAT_PER_MIN: '0',
      OPENAI_API_KEY: 'bench',
      OPENAI_BASE_URL: upstreamUrl,
      DEFAULT_MODEL: 'bench',
      // Bun allows 256 simultaneous fetches by default; beyond that, upstream streams wait in line.
      BUN_CONFIG_MAX_HTTP_REQUESTS: process.env.BUN_CONFIG_MAX_HTTP_REQUESTS ?? '4096',
    },
    stdout: 'inherit',
    stderr: 'inherit',
  })
  const started = performance.now()
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).status < 600) break
    } catch {
      if (performance.now() - started > 10_000) throw new Error('server did not start within 10 s')
    }
  }
  return {
    port,
    stop: async () => {
      proc.kill('SIGTERM')
      await proc.exited
    },
  }
}

// ---- clients ----

function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolvePromise, reject) => {
    const ws = new WebSocket(url)
    ws.addEventListener('open', () => resolvePromise(ws), { once: true })
    ws.addEventListener('error', () => reject(new Error('WebSocket failed')), { once: true })
  })
}

/** Sends one chat request and calls `onChunk` for each chunk; resolves with the terminal frame. */
function converse(ws: WebSocket, key: string, onChunk: (content: string, at: number) => void): Promise<any> {
  return new Promise((resolvePromise) => {
    const listener = (event: MessageEvent) => {
      const at = performance.now()
      const frame = JSON.parse(String(event.data))
      if (frame.type === 'chunk') return onChunk(frame.content, at)
      ws.removeEventListener('message', listener)
      resolvePromise(frame)
    }
    ws.addEventListener('message', listener)
    ws.send(JSON.stringify({ messages: [{ role: 'user', content: key }], mode: 'chat' }))
  })
}

const quantile = (values: number[], q: number) => {
  const sorted = Float64Array.from(values).sort()
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
}
const ms = (value: number) => +value.toFixed(3)

/** One chunk in flight: emit, wait for the client to see it, emit the next. */
async function pingPongThroughRelay(wsUrl: string): Promise<number[]> {
  const ws = await openSocket(wsUrl)
  const samples: number[] = []
  let emitNext: () => void = () => {}
  drivers.set('latency', (write, end) => {
    let sent = 0
    emitNext = () => (sent++ < LATENCY_SAMPLES ? write(String(performance.now())) : end())
    emitNext()
  })
  await converse(ws, 'latency', (content, at) => {
    samples.push(at - Number(content))
    emitNext()
  })
  ws.close()
  return samples.slice(100) // the first chunks warm up the JIT
}

/** The same, read straight from the fake upstream with fetch: what the relay adds is the difference. */
async function pingPongDirect(upstreamUrl: string): Promise<number[]> {
  const samples: number[] = []
  let emitNext: () => void = () => {}
  drivers.set('direct', (write, end) => {
    let sent = 0
    emitNext = () => (sent++ < LATENCY_SAMPLES ? write(String(performance.now())) : end())
    emitNext()
  })
  await readDirect(upstreamUrl, 'direct', (content, at) => {
    samples.push(at - Number(content))
    emitNext()
  })
  return samples.slice(100)
}

async function throughput(wsUrl: string) {
  const ws = await openSocket(wsUrl)
  drivers.set('flood', (write, end) => {
    // Write in batches, yielding between them, so the relay's backpressure shapes the rate.
    let sent = 0
    const batch = () => {
      for (let i = 0; i < 500 && sent < THROUGHPUT_CHUNKS; i++, sent++) write('token ')
      if (sent < THROUGHPUT_CHUNKS) setImmediate(batch)
      else end()
    }
    batch()
  })
  let chunks = 0
  const started = performance.now()
  const last = await converse(ws, 'flood', () => chunks++)
  const seconds = (performance.now() - started) / 1000
  ws.close()
  return { chunks, seconds, complete: last.type === 'complete' && last.content.length === THROUGHPUT_CHUNKS * 6 }
}

/** Reads one chat stream straight from the fake upstream (no relay), calling `onChunk` per content delta. */
async function readDirect(upstreamUrl: string, key: string, onChunk: (content: string, at: number) => void) {
  const response = await fetch(`${upstreamUrl}/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ messages: [{ role: 'user', content: key }] }),
  })
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const bytes of response.body!) {
    const at = performance.now()
    buffer += decoder.decode(bytes, { stream: true })
    let end: number
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(6, end)
      buffer = buffer.slice(end + 2)
      if (event === '[DONE]') continue
      const content = JSON.parse(event).choices[0]?.delta?.content
      if (content) onChunk(content, at)
    }
  }
  return { type: 'complete' }
}

/**
 * N streams at a steady rate at once. With `upstreamUrl` the clients read the fake upstream directly: the
 * baseline of what this machine (clients and fake in one process) does without the relay.
 */
async function concurrency(wsUrl: string, upstreamUrl?: string) {
  const sockets: WebSocket[] = []
  for (let i = 0; !upstreamUrl && i < CONNECTIONS; i += 100) {
    sockets.push(
      ...(await Promise.all(Array.from({ length: Math.min(100, CONNECTIONS - i) }, () => openSocket(wsUrl)))),
    )
  }
  const perStream = RATE * SECONDS
  const interval = 1000 / RATE
  // Samples are [emitted at, latency]; the steady phase starts once every stream has sent its first chunk.
  const samples: [number, number][] = []
  let started = 0
  let allStarted = Infinity
  const begin = performance.now()
  const results = await Promise.all(
    Array.from({ length: CONNECTIONS }, (_, i) => {
      const key = `steady-${upstreamUrl ? 'direct-' : ''}${i}`
      drivers.set(key, (write, end, closed) => {
        let sent = 0
        // Spread the streams over the interval so the load is steady, not in bursts.
        setTimeout(
          function tick() {
            if (closed()) return
            if (sent === 0 && ++started === CONNECTIONS) allStarted = performance.now()
            if (sent++ >= perStream) return end()
            write(String(performance.now()))
            setTimeout(tick, interval)
          },
          (i / CONNECTIONS) * interval,
        )
      })
      let received = 0
      const onChunk = (content: string, at: number) => {
        received++
        samples.push([Number(content), at - Number(content)])
      }
      return (upstreamUrl ? readDirect(upstreamUrl, key, onChunk) : converse(sockets[i]!, key, onChunk)).then(
        (last) => ({ ok: last.type === 'complete' && received === perStream }),
      )
    }),
  )
  const wall = (performance.now() - begin) / 1000
  for (const ws of sockets) ws.close()
  const steady = samples.filter(([emitted]) => emitted > allStarted).map(([, latency]) => latency)
  return {
    completed: results.filter((r) => r.ok).length,
    all: samples.map(([, latency]) => latency),
    steady,
    rampMs: allStarted - begin,
    wall,
  }
}

export async function run() {
  const upstream = startUpstream()
  const upstreamUrl = `http://127.0.0.1:${upstream.port}/v1`
  const app = await startApp(upstreamUrl)
  const wsUrl = `ws://127.0.0.1:${app.port}/ws/chat`
  try {
    const direct = await pingPongDirect(upstreamUrl)
    const relayed = await pingPongThroughRelay(wsUrl)
    const flood = await throughput(wsUrl)
    const load = await concurrency(wsUrl)
    const loadDirect = await concurrency(wsUrl, upstreamUrl)
    const added = (q: number) => quantile(relayed, q) - quantile(direct, q)
    return [
      {
        measure: 'upstream → client, direct (baseline), p50 / p99 ms',
        value: `${ms(quantile(direct, 0.5))} / ${ms(quantile(direct, 0.99))}`,
        samples: direct.length,
      },
      {
        measure: 'upstream → client through /ws/chat, p50 / p99 ms',
        value: `${ms(quantile(relayed, 0.5))} / ${ms(quantile(relayed, 0.99))}`,
        samples: relayed.length,
      },
      {
        measure: 'added per chunk by the relay, p50 / p99 ms',
        value: `${ms(added(0.5))} / ${ms(added(0.99))}`,
        samples: relayed.length,
      },
      {
        measure: 'chunks/s through one connection',
        value: `${Math.round(flood.chunks / flood.seconds)}${flood.complete ? '' : ' (INCOMPLETE)'}`,
        samples: flood.chunks,
      },
      {
        measure: `${CONNECTIONS} streams at ${RATE} chunks/s each: completed`,
        value: `${load.completed} / ${CONNECTIONS} in ${load.wall.toFixed(1)} s`,
        samples: load.all.length,
      },
      {
        measure: `${CONNECTIONS} streams, steady phase: upstream → client p50 / p99 ms`,
        value: `${ms(quantile(load.steady, 0.5))} / ${ms(quantile(load.steady, 0.99))}`,
        samples: load.steady.length,
      },
      {
        // Bun lets one process run 256 fetches at once unless BUN_CONFIG_MAX_HTTP_REQUESTS is set at its start.
        measure: `${CONNECTIONS} streams read directly from the upstream (baseline${process.env.BUN_CONFIG_MAX_HTTP_REQUESTS ? '' : ', 256 at a time'}), steady phase: p50 / p99 ms`,
        value: `${ms(quantile(loadDirect.steady, 0.5))} / ${ms(quantile(loadDirect.steady, 0.99))} (${loadDirect.completed} / ${CONNECTIONS} completed)`,
        samples: loadDirect.steady.length,
      },
      {
        measure: `${CONNECTIONS} streams, including the start of all of them (${Math.round(load.rampMs)} ms): p50 / p99 ms`,
        value: `${ms(quantile(load.all, 0.5))} / ${ms(quantile(load.all, 0.99))}`,
        samples: load.all.length,
      },
    ]
  } finally {
    await app.stop()
    upstream.stop(true)
  }
}

if (import.meta.main) {
  console.table(await run())
  process.exit(0)
}
