/**
 * The server under hostile learners: each flood of the result channel runs against a real server (a child
 * process, so its RSS is honest) while /health is polled one request after another. Per flood: /health p50/p99/max,
 * the server's peak RSS, how the attack ended and how long it took. Goal: /health p99 under 100 ms during every
 * flood, and memory that does not grow with the flood. Before the floods, execute-endpoint p50 on a one-line
 * function (warm pool), to compare with an unhardened checkout (hardening may cost at most 10%).
 *
 * Each flood gets a fresh server, so one cannot slow the next. Run: `bun bench/hostile.bench.ts`.
 * - BENCH_SERVER_ROOT=/path/to/checkout runs it all against that checkout's src/index.ts (e.g. main, unhardened);
 * - BENCH_BASELINE_ROOT=/path/to/checkout measures execute-endpoint on this checkout and that one in alternation
 *   (the fair comparison on a shared machine);
 * - BENCH_FLOOD_LIMIT_S bounds each flood (default 90 s, then its clients hang up); BENCH_RUNS sets the latency
 *   samples (default 40).
 *
 * Then the browser attacks (when Chromium is installed at BROWSER_PATH): pages that flood the DevTools bridge with
 * console output, post a 70 MB body to their backend, or hoard gigabytes of Blobs, each beside a neighbour's
 * ordinary test; per attack the same /health figures and the server's RSS, and how the tests ended.
 * - BENCH_ONLY=browser runs only those; BENCH_ONLY=channel only the floods of the result channel;
 * - BENCH_BROWSER_ROUNDS sets how many hostile tests each attack sends (default 4).
 */
import { accessSync, constants } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { resolve } from 'node:path'
import { pollHealth, rssMb, startServer, type Server } from './server'
import { percentile } from './measure'

const ROOT = resolve(process.env.BENCH_SERVER_ROOT ?? resolve(import.meta.dir, '..'))
const RUNS = Number(process.env.BENCH_RUNS ?? 40)
// Floods that end quickly run this many times over, so /health gets enough samples during them.
const ROUNDS = 10
const FLOOD_LIMIT_MS = Number(process.env.BENCH_FLOOD_LIMIT_S ?? 90) * 1000

const ms = (value: number) => Math.round(value * 10) / 10
const ONLY = process.env.BENCH_ONLY
const BROWSER_ROUNDS = Number(process.env.BENCH_BROWSER_ROUNDS ?? 4)
const BROWSER_PATH = process.env.BROWSER_PATH ?? '/usr/lib/chromium/chromium'
// Sandbox uids of their own, so a run beside other test runs on the host shares none.
const UID_BASE = String(4_000_000 + Math.floor(Math.random() * 1000) * 1000)

/** One learner program per flood: each writes to the harness's result channel (fd 3) itself. */
const fd3 = (body: string) => `import os\n@endpoint\ndef f():\n${body.replace(/^/gm, '    ')}`
const FLOODS = {
  fakeCases: fd3(
    `line = b'\\n{"type": "case", "index": 0, "value": 1}\\n' * 1000\nfor _ in range(200):\n    os.write(3, line)\nreturn 1`,
  ),
  noNewline: fd3('chunk = b"x" * (1 << 20)\nfor _ in range(63):\n    os.write(3, chunk)\nreturn 1'),
  hugeResult: fd3('return "a" * 60_000_000'),
  deep: fd3(
    `os.write(3, b'\\n{"type": "result", "endpoint": "/f", "args_used": {}, "stdout": "", "stderr": "", "value": ' + b"[" * 100000 + b"]" * 100000 + b'}\\n')\nos._exit(0)`,
  ),
}

/** A raw HTTP client that sends one request and never reads the answer (until it hangs up). */
function silentClient(port: number, path: string, body: unknown, accept = 'application/json'): Socket {
  const text = JSON.stringify(body)
  const socket = connect(port, '127.0.0.1')
  socket.pause()
  socket.on('error', () => {})
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: ${accept}\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  )
  return socket
}

const startHostileServer = (root = ROOT) =>
  startServer(root, {
    SANDBOX_UID_BASE: UID_BASE,
    BROWSER_PATH,
    // Every flood comes from 127.0.0.1: let that one client use every slot and the whole
    // queue, as the unhardened server did.
    EXEC_QUEUE_PER_CLIENT: '64',
    RATE_EXECUTION_PER_MIN: '0', // the floods are one client; this bench is about the result channel
    EXEC_SLOTS_PER_CLIENT: '64',
  })

const post = (server: Server, path: string, body: unknown, accept = 'application/json') =>
  fetch(`${server.base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept },
    body: JSON.stringify(body),
  })

/**
 * p50/p99 of execute-endpoint on a one-line function, per server. With several servers the calls alternate between
 * them, so each sees the same load from the rest of the machine (a fair comparison on a shared host).
 */
async function executeLatency(servers: { name: string; server: Server }[]) {
  const body = {
    pythonCode: '@endpoint\ndef add(a: int, b: int):\n    return a + b',
    endpoint: '/add',
    args: { a: 1, b: 2 },
  }
  for (const { server } of servers) await (await post(server, '/api/execute-endpoint', body)).json() // fills the pool
  const samples = servers.map((): number[] => [])
  for (let i = 0; i < RUNS; i++) {
    for (const [index, { server }] of servers.entries()) {
      await Bun.sleep(50) // let the pool refill, as between a learner's requests
      const started = performance.now()
      const reply = (await (await post(server, '/api/execute-endpoint', body)).json()) as { result?: number }
      samples[index]!.push(performance.now() - started)
      if (reply.result !== 3) throw new Error(`unexpected answer ${JSON.stringify(reply)}`)
    }
  }
  return servers.map(({ name, server }, index) => ({
    scenario: `execute-endpoint, one-line function (${name})`,
    requests: RUNS,
    outcome: 'ok',
    p50_ms: ms(percentile(samples[index]!, 50)),
    p99_ms: ms(percentile(samples[index]!, 99)),
    rss_peak_mb: rssMb(server.proc.pid),
  }))
}

/** Runs `attack` (resolves with how it ended) while polling /health; hangs up whatever is left after the limit. */
async function duringFlood(
  server: Server,
  scenario: string,
  requests: number,
  attack: () => Promise<string>,
  hangUp: () => void,
) {
  const started = performance.now()
  const ended = Promise.race([
    attack(),
    Bun.sleep(FLOOD_LIMIT_MS).then(() => `not finished after ${FLOOD_LIMIT_MS / 1000} s`),
  ])
  const { samples: health, rssBefore: before, rssPeak: peak } = await pollHealth(server, ended, 5)
  const outcome = await ended
  hangUp()
  return {
    scenario,
    requests,
    outcome,
    health_p50_ms: ms(percentile(health, 50)),
    health_p99_ms: ms(percentile(health, 99)),
    health_max_ms: ms(Math.max(...health)),
    rss_before_mb: before,
    rss_peak_mb: peak,
    duration_s: ms((performance.now() - started) / 1000),
  }
}

/** Until the server runs and queues nothing (its own /health says so). */
async function idle(server: Server) {
  for (;;) {
    const { checks } = (await (await fetch(`${server.base}/health`)).json()) as any
    if (checks.execution.queue.running === 0 && checks.execution.queue.waiting === 0) return
    await Bun.sleep(20)
  }
}

/** Runs `body` against a fresh, warmed-up server (one flood cannot slow the next), then stops it. */
async function withServer<T>(body: (server: Server) => Promise<T>, root = ROOT): Promise<T> {
  const server = await startHostileServer(root)
  try {
    // First requests pay for compiling routes and starting the pool: not what a flood costs.
    await (
      await post(server, '/api/execute-endpoint', { pythonCode: '@endpoint\ndef f():\n    return 1', endpoint: '/f' })
    ).json()
    for (let i = 0; i < 20; i++) await (await fetch(`${server.base}/health`)).arrayBuffer()
    return await body(server)
  } finally {
    server.proc.kill('SIGTERM')
    await server.proc.exited
  }
}

export async function run() {
  const rows: Record<string, unknown>[] = []
  if (ONLY !== 'browser') rows.push(...(await channelFloods()))
  if (ONLY !== 'channel') rows.push(...(await browserAttacks()))
  return rows
}

/** The floods of the result channel (and execute-endpoint latency before them). */
async function channelFloods() {
  const baseline = process.env.BENCH_BASELINE_ROOT
  const rows: Record<string, unknown>[] = await withServer((server) =>
    baseline
      ? withServer(
          (other) =>
            executeLatency([
              { name: 'this checkout', server },
              { name: `baseline ${baseline}`, server: other },
            ]),
          baseline,
        )
      : executeLatency([{ name: 'this checkout', server }]),
  )
  let sockets: Socket[] = []
  const hangUp = () => {
    for (const socket of sockets) socket.destroy()
    sockets = []
  }
  const batch = (code: string, expected: unknown = 1) => ({
    backendCode: code,
    testCases: [{ name: 'only', endpoint: '/f', expected }],
  })
  const flood = (scenario: string, requests: number, attack: (server: Server) => Promise<string>) =>
    withServer(async (server) => rows.push(await duringFlood(server, scenario, requests, () => attack(server), hangUp)))

  // What /health costs on this machine right now without any flood: the floods' figures read against it.
  await flood('no flood (the same polling for 2 s)', 0, () => Bun.sleep(2000).then(() => 'idle'))
  await flood('200,000 fake case lines, SSE, 8 KB expected, client never reads', ROUNDS, async (server) => {
    for (let i = 0; i < ROUNDS; i++) {
      sockets.push(
        silentClient(
          server.port,
          '/api/execute-test-cases',
          batch(FLOODS.fakeCases, 'x'.repeat(8192)),
          'text/event-stream',
        ),
      )
      await Bun.sleep(200)
      await idle(server)
    }
    return 'runs ended'
  })
  await flood('63 MiB on fd 3 without a newline (batch)', ROUNDS, async (server) => {
    const outcomes = new Set<string>()
    for (let i = 0; i < ROUNDS; i++) {
      const report = (await (await post(server, '/api/execute-test-cases', batch(FLOODS.noNewline))).json()) as any
      outcomes.add(`${report.results?.[0]?.status} ${report.results?.[0]?.error_type ?? ''}`.trim())
    }
    return [...outcomes].join(', ')
  })
  await flood("return 'a' * 60_000_000, 30 clients that never read", 30, async (server) => {
    for (let i = 0; i < 30; i++)
      sockets.push(
        silentClient(server.port, '/api/execute-endpoint', { pythonCode: FLOODS.hugeResult, endpoint: '/f' }),
      )
    await Bun.sleep(200)
    await idle(server)
    return 'all runs ended'
  })
  await flood('a result line nested 100,000 deep', ROUNDS, async (server) => {
    const outcomes = new Set<string>()
    for (let i = 0; i < ROUNDS; i++) {
      const response = await post(server, '/api/execute-endpoint', { pythonCode: FLOODS.deep, endpoint: '/f' })
      outcomes.add(`HTTP ${response.status} ${((await response.json()) as any).error_type ?? ''}`.trim())
    }
    return [...outcomes].join(', ')
  })
  return rows
}

/** The learner's page for one browser attack: `script` runs on load, then the page shows "done". */
const hostilePage = (script: string) => ({
  html: '<p id="out"></p><script src="script.js"></script>',
  js: `(async () => {\n${script}\n})().finally(() => { document.getElementById('out').textContent = 'done' })`,
})
const BROWSER_ATTACKS: { scenario: string; script: string }[] = [
  {
    scenario: 'console flood: forty 30 MB console.log strings per page',
    script: "const big = 'y'.repeat(3e7)\nfor (let i = 0; i < 40; i++) console.log(big + i)",
  },
  {
    scenario: "a 70 MB fetch body to the page's backend",
    script: "await fetch('/api/echo', { method: 'POST', body: 'x'.repeat(7e7) }).catch(() => {})",
  },
  {
    scenario: '1.5 GB of Blobs held by the page',
    script:
      'const keep = []\nfor (let i = 0; i < 60; i++) { keep.push(new Blob([new Uint8Array(25 << 20).fill(i)])); await new Promise((r) => setTimeout(r, 5)) }',
  },
]

/** Each browser attack on a fresh server: hostile pages and, beside them, a neighbour's ordinary tests. */
async function browserAttacks() {
  try {
    accessSync(BROWSER_PATH, constants.X_OK)
  } catch {
    return [{ scenario: `browser attacks skipped: no Chromium at ${BROWSER_PATH}` }]
  }
  const rows: Record<string, unknown>[] = []
  const browserTest = (name: string) => ({
    name,
    type: 'frontend_interactive',
    steps: [{ assert: 'elementText', selector: '#out', expected: 'done' }],
  })
  const batch = (frontendCode: object, name: string) => ({
    backendCode: "@endpoint('/api/echo', methods=['POST'])\ndef echo():\n    return 'ok'\n",
    frontendCode,
    testCases: Array.from({ length: BROWSER_ROUNDS }, (_, index) => browserTest(`${name} ${index + 1}`)),
  })
  const statuses = async (response: Promise<Response>) => {
    const report = (await (await response).json()) as { results?: { status: string; reason?: string }[] }
    const counts = new Map<string, number>()
    for (const { status, reason } of report.results ?? []) {
      const key = reason ? `${status} (${reason})` : status
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    return [...counts].map(([key, count]) => `${count} ${key}`).join(', ') || 'no results'
  }
  for (const { scenario, script } of BROWSER_ATTACKS) {
    await withServer(async (server) => {
      // One warm-up test, so the attack does not pay for the browser's start.
      await (await post(server, '/api/execute-test-cases', batch(hostilePage(''), 'warm-up'))).arrayBuffer()
      const attack = async () => {
        const [hostile, neighbour] = await Promise.all([
          statuses(post(server, '/api/execute-test-cases', batch(hostilePage(script), 'hostile'))),
          statuses(post(server, '/api/execute-test-cases', batch(hostilePage(''), 'neighbour'))),
        ])
        return `hostile: ${hostile}; neighbour: ${neighbour}`
      }
      rows.push(await duringFlood(server, scenario, BROWSER_ROUNDS, attack, () => {}))
    })
  }
  return rows
}

if (import.meta.main) {
  console.table(await run())
  process.exit(0)
}
