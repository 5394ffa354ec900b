/**
 * The request path under hostile clients (docs/security.md): two clients send bodies nested hundreds of
 * thousands deep, or 1.8 MB wide bodies that fail their schema, to the routes the review named (the chat body at
 * its root, a field of /api/stop-python-server, /api/load-test-cases, the chat socket), while /health is polled
 * one request after another. Per attack: /health p50/p99/max and the server's peak RSS, next to the same polling
 * with no attack in the same run (the baseline). Goal: /health p99 under 100 ms during every attack.
 *
 * Run: `bun bench/hostile-requests.bench.ts`; BENCH_SERVER_ROOT=/path/to/checkout measures another checkout
 * (for instance one before the fix); BENCH_ATTACK_S sets how long each attack lasts (default 10 s).
 */
import { resolve } from 'node:path'
import { percentile } from './measure'
import { pollHealth, startServer, type Server } from './server'

const ROOT = resolve(process.env.BENCH_SERVER_ROOT ?? resolve(import.meta.dir, '..'))
const ATTACK_MS = Number(process.env.BENCH_ATTACK_S ?? 10) * 1000
const CLIENTS = 2

const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth)
const wide = `[${Array(900_000).fill('1').join(',')}]`

/** What one attacker sends, over and over: an HTTP body, or a chat frame. */
const ATTACKS: Record<string, { path: string; body: string } | { frame: string }> = {
  'none (baseline)': { path: '', body: '' },
  'chat body 900k deep': { path: '/api/chat', body: deep(900_000) },
  'stop-python-server field 900k deep': { path: '/api/stop-python-server', body: `{"port": ${deep(900_000)}}` },
  'load-test-cases 400k deep': { path: '/api/load-test-cases', body: `{"task": {"tests": ${deep(400_000)}}}` },
  'chat body 1.8 MB wide': { path: '/api/chat', body: wide },
  'chat frame 900k deep': { frame: `{"messages": ${deep(900_000)}}` },
}

async function attacker(server: Server, attack: (typeof ATTACKS)[string], until: number): Promise<number> {
  let sent = 0
  if ('frame' in attack) {
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws/chat`)
    await new Promise((open) => socket.addEventListener('open', open, { once: true }))
    while (performance.now() < until) {
      const answered = new Promise((done) => socket.addEventListener('message', done, { once: true }))
      socket.send(attack.frame)
      await answered
      sent++
    }
    socket.close()
    return sent
  }
  if (!attack.path) return 0
  while (performance.now() < until) {
    const response = await fetch(`${server.base}${attack.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: attack.body,
    }).catch(() => undefined)
    await response?.arrayBuffer()
    sent++
  }
  return sent
}

async function measure(name: string, attack: (typeof ATTACKS)[string]) {
  const server = await startServer(ROOT, { RATE_CHAT_PER_MIN: '0', RATE_EXECUTION_PER_MIN: '0' })
  try {
    const until = performance.now() + ATTACK_MS
    const attackers = Promise.all(Array.from({ length: CLIENTS }, () => attacker(server, attack, until)))
    // The poller stops with the attack's time, not with the attackers' last answers.
    const { samples, rssPeak: peakRss } = await pollHealth(server, Bun.sleep(ATTACK_MS))
    const sent = (await attackers).reduce((a, b) => a + b, 0)
    const ms = (value: number) => Math.round(value * 10) / 10
    return {
      attack: name,
      attack_requests: sent,
      health_samples: samples.length,
      health_p50_ms: ms(percentile(samples, 50)),
      health_p99_ms: ms(percentile(samples, 99)),
      health_max_ms: ms(Math.max(...samples)),
      server_peak_rss_mb: peakRss,
    }
  } finally {
    server.proc.kill('SIGTERM')
    await server.proc.exited
  }
}

export async function run() {
  const rows = []
  for (const [name, attack] of Object.entries(ATTACKS)) rows.push(await measure(name, attack))
  return rows
}

if (import.meta.main) {
  console.table(await run())
  process.exit(0)
}
