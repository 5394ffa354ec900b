/**
 * Python server relay benchmark: a learner server in the real sandbox, reached through the backend's port.
 *
 * - round trip: one keep-alive connection, 1,000 small requests one after the other (p50/p99 per request).
 * - download: 200 MB (BENCH_MB) streamed from the learner's server to one client (MB/s through the relay).
 * - upload: 200 MB sent to it (MB/s).
 * - burst: 32 connections opened at once, one request each (wall time until all answered).
 * - flood: a hostile program writes 13-byte frames to its relay channel as fast as it can for 5 s: /health p99
 *   meanwhile, the backend's CPU share, and how many frames the sandbox got through (FrameBudget in mux.ts).
 * Run: `bun run bench servers`.
 */
import { connect } from 'node:net'
import { closeServices, createApp } from '../src/app'
import { loadConfig } from '../src/config'

const MB = 1024 * 1024
const TRANSFER = Number(process.env.BENCH_MB ?? 200) * MB

// A learner server: "p" answers one byte, "d" sends TRANSFER bytes, "u" reads TRANSFER bytes then answers.
const PROGRAM = `
import os, socket, threading
TRANSFER = ${TRANSFER}
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(os.environ["PORT"])))
server.listen(64)
def serve(client):
    block = b"x" * 65536
    while True:
        command = client.recv(1)
        if command == b"p":
            client.sendall(b"!")
        elif command == b"d":
            for _ in range(TRANSFER // len(block)):
                client.sendall(block)
        elif command == b"u":
            left = TRANSFER
            while left:
                left -= len(client.recv(min(left, 1 << 20)))
            client.sendall(b"!")
        else:
            client.close()
            return
while True:
    threading.Thread(target=serve, args=(server.accept()[0],), daemon=True).start()
`

/** A connection whose `expect(n)` resolves once n more bytes arrived (rejects if it closes first). */
function open(port: number) {
  const socket = connect(port, '127.0.0.1')
  let waiting: { bytes: number; resolve: () => void; reject: (error: Error) => void } | null = null
  socket.on('data', (chunk: Buffer) => {
    if (!waiting) return
    waiting.bytes -= chunk.length
    if (waiting.bytes <= 0) {
      const { resolve } = waiting
      waiting = null
      resolve()
    }
  })
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  void closed.then(() => waiting?.reject(new Error('closed')))
  socket.on('error', () => {})
  const expect = (bytes: number) => new Promise<void>((resolve, reject) => (waiting = { bytes, resolve, reject }))
  return { socket, expect, closed, ready: new Promise((resolve) => socket.once('connect', resolve)) }
}

// Writes ack frames for a connection that does not exist, whole frames only, for as long as it runs.
const FLOOD = `
import os, select, struct, threading
frames = struct.pack(">BII", 5, 999999, 4) + b"\\0\\0\\0\\1"
batch = frames * 5000
sent = [0]
def flood():
    view = memoryview(batch)
    while True:
        try:
            n = os.write(4, view)
        except BlockingIOError:
            select.select([], [4], [])
            continue
        sent[0] += n
        view = view[n:] if n < len(view) else memoryview(batch)
threading.Thread(target=flood, daemon=True).start()
@endpoint
def frames_sent():
    return sent[0] // 13
`

/** /health asked in a loop for 5 s: latency and the backend's CPU share (this loop's own requests included). */
async function health(app: ReturnType<typeof createApp>, label: string) {
  const times: number[] = []
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  while (performance.now() - t0 < 5000) {
    const sent = performance.now()
    await fetch(`http://127.0.0.1:${app.server!.port}/health`)
    times.push(performance.now() - sent)
  }
  const used = process.cpuUsage(cpu)
  const elapsed = performance.now() - t0
  times.sort((a, b) => a - b)
  return {
    case: label,
    p50_ms: percentile(times, 0.5).toFixed(3),
    p99_ms: percentile(times, 0.99).toFixed(3),
    backend_cpu_pct: (((used.user + used.system) / 1000 / elapsed) * 100).toFixed(0),
  }
}

async function healthUnderFlood(app: ReturnType<typeof createApp>, port: number) {
  const { servers } = app.decorator.services
  const started = await servers.start(FLOOD, port, 'bench')
  if (!started.listening) throw new Error(`the flooding server did not listen: ${started.server.output_tail}`)
  const row = await health(app, '/health, flood of tiny frames')
  await servers.stop(port, { client: 'bench' })
  return row
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

export async function run(): Promise<Record<string, unknown>[]> {
  const port = 5000 + Math.floor(Math.random() * 99)
  const config = loadConfig({ LOG_LEVEL: 'silent', EXEC_POOL_SIZE: '0' })
  const app = createApp({ config }).listen({ hostname: '127.0.0.1', port: 0 })
  const { servers } = app.decorator.services
  const started = await servers.start(PROGRAM, port, 'bench')
  if (!started.listening) throw new Error(`the learner server did not listen: ${started.server.output_tail}`)
  const rows: Record<string, unknown>[] = []
  try {
    const client = open(port)
    await client.ready
    const times: number[] = []
    for (let i = 0; i < 1000; i++) {
      const t0 = performance.now()
      const answered = client.expect(1)
      client.socket.write('p')
      await answered
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    rows.push({
      case: 'round trip',
      p50_ms: percentile(times, 0.5).toFixed(3),
      p99_ms: percentile(times, 0.99).toFixed(3),
    })

    let t0 = performance.now()
    const downloaded = client.expect(TRANSFER)
    client.socket.write('d')
    await downloaded
    rows.push({ case: 'download', MB_per_s: (TRANSFER / MB / ((performance.now() - t0) / 1000)).toFixed(0) })

    t0 = performance.now()
    const uploaded = client.expect(1)
    client.socket.write('u')
    const block = Buffer.alloc(MB, 120)
    for (let sent = 0; sent < TRANSFER; sent += MB) {
      if (!client.socket.write(block)) await new Promise((resolve) => client.socket.once('drain', resolve))
    }
    await uploaded
    rows.push({ case: 'upload', MB_per_s: (TRANSFER / MB / ((performance.now() - t0) / 1000)).toFixed(0) })
    // Ended, not destroyed: once it has closed, its slot is free for the burst (a reset may lag behind).
    client.socket.end()
    await client.closed

    t0 = performance.now()
    await Promise.all(
      Array.from({ length: config.SERVERS_MAX_CONNECTIONS }, async () => {
        const each = open(port)
        await each.ready
        const answered = each.expect(1)
        each.socket.write('p')
        await answered
        each.socket.end()
        await each.closed
      }),
    )
    rows.push({ case: `burst of ${config.SERVERS_MAX_CONNECTIONS}`, wall_ms: (performance.now() - t0).toFixed(1) })
    rows.push(await health(app, '/health, no flood'))
    rows.push(await healthUnderFlood(app, port === 5098 ? 5000 : port + 1))
  } finally {
    await app.stop()
    await closeServices(app.decorator.services)
  }
  return rows
}
