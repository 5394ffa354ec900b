/** Shared by the Python server tests: free ports, apps that are always closed, process and port probes. */
import { afterAll } from 'bun:test'
import { connect, createServer } from 'node:net'
import { createApp, type AppDeps } from '../../src/app'
import type { ConfigKey } from '../../src/config'
import { testConfig } from '../support/config'

/**
 * Arguments of a `sleep` the learner's program starts, unique to this run, so `processesMatching` finds only
 * processes of this test run.
 */
export const sleepMarker = () => `3${Math.floor(Math.random() * 1e6)}.5`

/** `count` consecutive loopback ports that were all free a moment ago. */
export async function freePortBlock(count: number): Promise<number> {
  for (;;) {
    const base = 20000 + Math.floor(Math.random() * 40000)
    const free = await Promise.all(
      Array.from(
        { length: count },
        (_, i) =>
          new Promise<boolean>((resolve) => {
            const probe = createServer()
            probe.once('error', () => resolve(false))
            probe.listen(base + i, '127.0.0.1', () => probe.close(() => resolve(true)))
          }),
      ),
    )
    if (free.every(Boolean)) return base
  }
}

type Overrides = Partial<Record<ConfigKey, string>>

/**
 * A factory of apps whose port range is [first, first + count); every app it made is closed (and with it every
 * Python server) after the file's tests.
 */
export function appFactory(first: number, count: number) {
  const apps: ReturnType<typeof createApp>[] = []
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.decorator.services.servers.close()))
  })
  return (overrides: Overrides = {}, deps: Omit<AppDeps, 'config'> = {}) => {
    const range = { SERVERS_PORT_MIN: String(first), SERVERS_PORT_MAX: String(first + count - 1) }
    const app = createApp({ config: testConfig({ ...range, ...overrides }), ...deps })
    apps.push(app)
    return app
  }
}

/** Whether a process with this pid exists (a zombie does not count: it is dead, just not reaped). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  const stat = Bun.spawnSync(['ps', '-o', 'stat=', '-p', String(pid)])
    .stdout.toString()
    .trim()
  return stat !== '' && !stat.startsWith('Z')
}

/** Pids of processes whose command line contains `pattern` (pgrep never lists itself). */
export function processesMatching(pattern: string): string {
  return Bun.spawnSync(['pgrep', '-f', pattern]).stdout.toString().trim()
}

/** Resolves 'refused' if nothing accepts TCP connections on 127.0.0.1:port, 'open' otherwise. */
export function probePort(port: number): Promise<'open' | 'refused'> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve('open')
    })
    socket.once('error', () => resolve('refused'))
  })
}

/** A plain http.server program answering "hello from <PORT>". */
export const HELLO = `
import http.server, os
class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from " + os.environ["PORT"]).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Hello).serve_forever()
`
