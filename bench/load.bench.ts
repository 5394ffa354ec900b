/**
 * A class at once, on loopback only: the real server (`bun src/index.ts`, a child process, so its RSS, file
 * descriptors and children are its own) behind access keys with low per-minute limits, while N chat clients and
 * M execution clients work for T seconds.
 *
 * - chat: each client in turn opens /ws/chat with its key and streams one answer, then asks POST /api/chat; the
 *   answers come from a fake OpenAI server in this process, streaming SSE over real HTTP with a pause per chunk;
 * - execution: each client calls execute-endpoint on a tiny function, run in the real sandbox;
 * - one request in 20 carries a wrong key (refused with 401).
 * Keys are shared by several clients (a class of K learners), so the limits bite: refusals are counted by reason
 * (from the answers and from the server's own /metrics). Before and after the load, once the server has settled
 * (the upstream stopped, so its pooled connections are gone): its RSS, open file descriptors (/proc/<pid>/fd) and
 * descendant processes, to show nothing leaked.
 *
 * Run: `bun bench/load.bench.ts`. BENCH_LOAD_CHATS (N, default 20), BENCH_LOAD_EXECS (M, default 4),
 * BENCH_LOAD_SECONDS (T, default 10), BENCH_LOAD_KEYS (K, default 4), BENCH_LOAD_CHAT_RATE and
 * BENCH_LOAD_EXEC_RATE (requests per key per minute, defaults 20 and 3: low enough that a class of 4 keys meets them).
 */
import { readdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { rssMb, startServer, type Server } from './server'
import { descendants, percentile } from './measure'

const ROOT = resolve(import.meta.dir, '..')
const CHATS = Number(process.env.BENCH_LOAD_CHATS ?? 20)
const EXECS = Number(process.env.BENCH_LOAD_EXECS ?? 4)
const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 10)
const KEYS = Number(process.env.BENCH_LOAD_KEYS ?? 4)
const CHAT_RATE = Number(process.env.BENCH_LOAD_CHAT_RATE ?? 20)
const EXEC_RATE = Number(process.env.BENCH_LOAD_EXEC_RATE ?? 3)
const CHUNKS = 20
const CHUNK_PAUSE_MS = 5
/** A refused client waits this long before its next try, so refusals do not become a busy loop. */
const BACKOFF_MS = 200

const ms = (value: number) => Math.round(value * 10) / 10

// ---- fake upstream: OpenAI chat completions, streamed ----

const encoder = new TextEncoder()
const chunk = (delta: Record<string, unknown>, finish: string | null) =>
  `data: ${JSON.stringify({ id: 'b', object: 'chat.completion.chunk', created: 0, model: 'bench', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`

function startUpstream() {
  return Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    fetch: () =>
      new Response(
        new ReadableStream<Uint8Array>({
          async start(controller) {
            for (let i = 0; i < CHUNKS; i++) {
              controller.enqueue(encoder.encode(chunk({ content: `word${i} ` }, null)))
              await Bun.sleep(CHUNK_PAUSE_MS)
            }
            controller.enqueue(encoder.encode(`${chunk({}, 'stop')}data: [DONE]\n\n`))
            controller.close()
          },
        }),
        { headers: { 'content-type': 'text/event-stream' } },
      ),
  })
}

// ---- the server under test and what it holds ----

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length

const snapshot = (pid: number) => ({ rss_mb: rssMb(pid), fds: openFds(pid), children: descendants(pid).length })

const keyOf = (i: number) => `bench-learner-${i}-key-${'x'.repeat(8)}`
const ADMIN_KEY = 'bench-teacher-key-0000'
const sha256 = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`

const startLoadServer = (upstreamUrl: string, keysFile: string) =>
  startServer(ROOT, {
    API_KEYS_FILE: keysFile,
    RATE_CHAT_PER_MIN: String(CHAT_RATE),
    RATE_EXECUTION_PER_MIN: String(EXEC_RATE),
    OPENAI_API_KEY: 'sk-bench',
    OPENAI_BASE_URL: `${upstreamUrl}/v1`,
    DEFAULT_MODEL: 'bench-model',
    BUN_CONFIG_MAX_HTTP_REQUESTS: '4096',
  })

// ---- the clients ----

interface Tally {
  ok: number
  latencies: number[]
  refused: Record<string, number>
}

const tally = (): Tally => ({ ok: 0, latencies: [], refused: {} })
const refuse = (t: Tally, reason: string) => void (t.refused[reason] = (t.refused[reason] ?? 0) + 1)

let requestCount = 0
/** One request in 20 carries a wrong key. */
const keyFor = (client: number) => (++requestCount % 20 === 0 ? 'not-a-key' : keyOf(client % KEYS))

async function post(server: Server, path: string, key: string, body: unknown, t: Tally, ok: (reply: any) => boolean) {
  const started = performance.now()
  const response = await fetch(`${server.base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
    // A connection per request: a pool of idle keep-alive sockets would read as descriptors held by the server.
    keepalive: false,
  })
  const reply = (await response.json()) as any
  if (response.ok && ok(reply)) {
    t.ok++
    t.latencies.push(performance.now() - started)
    return true
  }
  refuse(t, `${response.status} ${reply.error_type ?? 'unexpected'}`)
  return false
}

/** One streamed answer over a fresh socket; a refused upgrade shows only as a socket that never opens. */
function wsTurn(server: Server, key: string, t: Tally): Promise<boolean> {
  const started = performance.now()
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/chat?token=${key}`)
    let opened = false
    ws.onopen = () => {
      opened = true
      ws.send(JSON.stringify({ messages: [{ role: 'user', content: 'Hi' }], mode: 'chat' }))
    }
    ws.onmessage = (event) => {
      const frame = JSON.parse(String(event.data))
      if (frame.type === 'complete' || frame.type === 'error') {
        if (frame.type === 'complete') {
          t.ok++
          t.latencies.push(performance.now() - started)
        } else refuse(t, `ws error ${frame.error_type}`)
        ws.close()
        resolve(frame.type === 'complete')
      }
    }
    ws.onclose = (event) => {
      if (event.code === 4401) refuse(t, 'ws 4401 unauthorized')
      else if (!opened) refuse(t, 'ws upgrade refused (429)')
      if (event.code === 4401 || !opened) resolve(false)
    }
  })
}

async function chatClient(server: Server, client: number, until: number, t: Tally) {
  for (let turn = 0; performance.now() < until; turn++) {
    const served =
      turn % 2 === 0
        ? await wsTurn(server, keyFor(client), t)
        : await post(
            server,
            '/api/chat',
            keyFor(client),
            { messages: [{ role: 'user', content: 'Hi' }], mode: 'chat' },
            t,
            (r) => typeof r.response === 'string',
          )
    if (!served) await Bun.sleep(BACKOFF_MS)
  }
}

const ADD = {
  pythonCode: '@endpoint\ndef add(a: int, b: int):\n    return a + b',
  endpoint: '/add',
  args: { a: 1, b: 2 },
}

async function execClient(server: Server, client: number, until: number, t: Tally) {
  while (performance.now() < until) {
    if (!(await post(server, '/api/execute-endpoint', keyFor(client), ADD, t, (r) => r.result === 3)))
      await Bun.sleep(BACKOFF_MS)
  }
}

/** Waits (bounded) until the server holds no more descendants than `target`: pools refill, sandboxes are reaped. */
async function settle(pid: number, target: number) {
  for (const started = performance.now(); performance.now() - started < 10_000; await Bun.sleep(100)) {
    if (descendants(pid).length <= target) return
  }
}

async function serverRefusals(server: Server) {
  const text = await (
    await fetch(`${server.base}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
  ).text()
  const lines = text
    .split('\n')
    .filter((l) => /^tutor_(rate_limited_total|auth_refused_total|upstream_errors_total)\{/.test(l))
  return lines.map((l) => l.replace(/^tutor_/, '')).join('; ')
}

export async function run() {
  const dir = mkdtempSync(join(tmpdir(), 'load-bench-'))
  const keysFile = join(dir, 'keys.txt')
  const lines = Array.from({ length: KEYS }, (_, i) => `learner-${i} ${sha256(keyOf(i))}`)
  writeFileSync(keysFile, [...lines, `teacher ${sha256(ADMIN_KEY)} admin`].join('\n'))
  const upstream = startUpstream()
  const server = await startLoadServer(`http://127.0.0.1:${upstream.port}`, keysFile)
  try {
    // Warm: the pool filled and one of each request served, so "before" is the steady state.
    const warm = tally()
    await post(server, '/api/execute-endpoint', ADMIN_KEY, ADD, warm, (r) => r.result === 3)
    await wsTurn(server, ADMIN_KEY, warm)
    await Bun.sleep(500)
    const before = snapshot(server.proc.pid)

    const chats = tally()
    const execs = tally()
    const started = performance.now()
    const until = started + SECONDS * 1000
    let peakRss = before.rss_mb
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(server.proc.pid))), 250)
    await Promise.all([
      ...Array.from({ length: CHATS }, (_, i) => chatClient(server, i, until, chats)),
      ...Array.from({ length: EXECS }, (_, i) => execClient(server, i, until, execs)),
    ])
    clearInterval(sampler)
    const elapsed = (performance.now() - started) / 1000

    // The upstream goes away, and with it the server's pooled connections to it: what stays open then is held.
    upstream.stop(true)
    await settle(server.proc.pid, before.children)
    await Bun.sleep(500)
    const after = snapshot(server.proc.pid)
    const row = (scenario: string, t: Tally) => ({
      scenario,
      served: t.ok,
      per_s: Math.round((t.ok / elapsed) * 10) / 10,
      p50_ms: ms(percentile(t.latencies, 50)),
      p99_ms: ms(percentile(t.latencies, 99)),
      refused: Object.entries(t.refused)
        .map(([reason, count]) => `${reason}: ${count}`)
        .join(', '),
    })
    return [
      row(`chat: ${CHATS} clients, ${KEYS} keys, ${CHAT_RATE}/min each, ${SECONDS} s`, chats),
      row(`execute-endpoint: ${EXECS} clients, ${EXEC_RATE}/min each`, execs),
      { scenario: 'server refusals (/metrics)', refused: await serverRefusals(server) },
      {
        scenario: 'server before → after',
        rss_mb: `${before.rss_mb} → ${after.rss_mb} (peak ${peakRss})`,
        fds: `${before.fds} → ${after.fds}`,
        children: `${before.children} → ${after.children}`,
      },
    ]
  } finally {
    server.proc.kill('SIGTERM')
    await server.proc.exited
    upstream.stop(true)
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  console.table(await run())
  process.exit(0)
}
