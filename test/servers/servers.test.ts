import { afterAll, describe, expect, test } from 'bun:test'
import { createServer } from 'node:net'
import { createApp } from '../../src/app'
import { testConfig } from '../support/config'
import { get, post } from '../support/http'

/** A block of 8 ports that were free a moment ago, for the configured range. */
async function freePortBlock(): Promise<number> {
  for (;;) {
    const base = 20000 + Math.floor(Math.random() * 40000)
    const probes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        new Promise<boolean>((resolve) => {
          const s = createServer()
          s.once('error', () => resolve(false))
          s.listen(base + i, '127.0.0.1', () => s.close(() => resolve(true)))
        }),
      ),
    )
    if (probes.every(Boolean)) return base
  }
}

/** Retries a request until the learner's server inside the sandbox answers (it starts asynchronously). */
async function fetchWhenUp(url: string, init?: RequestInit): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(url, init)
      if (response.status < 500 || attempt > 100) return response
    } catch (error) {
      if (attempt > 100) throw error
    }
    await Bun.sleep(20)
  }
}

async function until<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    await Bun.sleep(20)
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const HELLO = `
import http.server, os
class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(("hello from " + os.environ["PORT"]).encode())
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Hello).serve_forever()
`

const base = await freePortBlock()
const apps: { decorator: { services: { servers: { close(): unknown } } } }[] = []
function makeApp(overrides: Record<string, string> = {}) {
  const app = createApp({
    config: testConfig({ SERVERS_PORT_MIN: String(base), SERVERS_PORT_MAX: String(base + 7), ...overrides }),
  })
  apps.push(app)
  return app
}
afterAll(async () => {
  for (const app of apps) await app.decorator.services.servers.close()
})

describe('deprecated Python servers', () => {
  test('a plain http.server program is reachable on its port, listed, and stopped with its process', async () => {
    const app = makeApp()
    const port = base
    const started = await post(app, '/api/start-python-server', { pythonCode: HELLO, port })
    expect(started.status).toBe(200)
    expect(started.body).toEqual({
      success: true,
      port,
      processId: expect.any(Number),
      message: `Python server started on port ${port}`,
    })

    const response = await fetchWhenUp(`http://127.0.0.1:${port}/`)
    expect(await response.text()).toBe(`hello from ${port}`)

    const listed = await get(app, '/api/list-python-servers')
    const entry = listed.body.servers.find((s: { port: number }) => s.port === port)
    expect(entry).toMatchObject({ port, processId: started.body.processId, status: 'running', sandboxed: true })
    expect(new Date(entry.startTime).toISOString()).toBe(entry.startTime)

    const stopped = await post(app, '/api/stop-python-server', { port })
    expect(stopped.body).toEqual({ success: true, message: `Python server on port ${port} stopped` })
    expect(alive(started.body.processId)).toBe(false)
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow()
    const after = await get(app, '/api/list-python-servers')
    expect(after.body.servers.find((s: { port: number }) => s.port === port).status).toBe('stopped')
  })

  test('a program of @endpoint functions is served over HTTP with JSON arguments', async () => {
    const app = makeApp()
    const port = base + 1
    const code = "@endpoint('/add', methods=['POST'])\ndef add(a, b):\n    return a + b\n\n@endpoint\ndef hello(name='world'):\n    return 'hi ' + name\n"
    expect((await post(app, '/api/start-python-server', { pythonCode: code, port })).status).toBe(200)
    const sum = await fetchWhenUp(`http://127.0.0.1:${port}/add`, { method: 'POST', body: JSON.stringify({ a: 2, b: 3 }) })
    expect(await sum.json()).toEqual({ result: 5 })
    const hello = await fetch(`http://127.0.0.1:${port}/hello?name=ada`)
    expect(await hello.json()).toEqual({ result: 'hi ada' })
    const missing = await fetch(`http://127.0.0.1:${port}/nope`)
    expect(missing.status).toBe(404)
    await post(app, '/api/stop-python-server', { port })
  })

  test('the server has no network, no secrets and no view of the project', async () => {
    const app = makeApp().listen({ hostname: '127.0.0.1', port: 0 })
    const port = base + 2
    process.env.SERVERS_TEST_SECRET = 'do-not-leak-me'
    const code = `
import http.server, os, socket, json
def probe():
    out = {}
    try:
        socket.create_connection(("127.0.0.1", ${app.server!.port}), timeout=2).close()
        out["backend"] = "reached"
    except OSError as e:
        out["backend"] = "blocked"
    out["env"] = sorted(os.environ)
    out["project"] = os.path.exists(${JSON.stringify(process.cwd())})
    out["uid"] = os.getuid()
    return out
class Probe(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(json.dumps(probe()).encode())
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Probe).serve_forever()
`
    expect((await post(app, '/api/start-python-server', { pythonCode: code, port })).status).toBe(200)
    const seen = await (await fetchWhenUp(`http://127.0.0.1:${port}/`)).json()
    expect(seen).toEqual({ backend: 'blocked', env: ['HOME', 'LANG', 'PATH', 'PORT', 'PWD'], project: false, uid: 65534 })
    delete process.env.SERVERS_TEST_SECRET
    await post(app, '/api/stop-python-server', { port })
    app.stop()
  })

  test('refuses bad requests with the envelope', async () => {
    const app = makeApp({ SERVERS_MAX: '1' })
    const outside = await post(app, '/api/start-python-server', { pythonCode: HELLO, port: base + 100 })
    expect(outside.status).toBe(400)
    expect(outside.body.error_type).toBe('port_out_of_range')
    const empty = await post(app, '/api/start-python-server', { pythonCode: '   ', port: base + 3 })
    expect(empty.status).toBe(400)
    const unknown = await post(app, '/api/stop-python-server', { port: base + 3 })
    expect(unknown.status).toBe(404)
    expect(unknown.body.error_type).toBe('server_not_found')

    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(base + 3, '127.0.0.1', resolve))
    const taken = await post(app, '/api/start-python-server', { pythonCode: HELLO, port: base + 3 })
    expect(taken.status).toBe(409)
    expect(taken.body.error_type).toBe('port_in_use')
    blocker.close()

    expect((await post(app, '/api/start-python-server', { pythonCode: HELLO, port: base + 4 })).status).toBe(200)
    const again = await post(app, '/api/start-python-server', { pythonCode: HELLO, port: base + 4 })
    expect(again.body.error_type).toBe('port_in_use')
    const second = await post(app, '/api/start-python-server', { pythonCode: HELLO, port: base + 5 })
    expect(second.status).toBe(429)
    expect(second.body.error_type).toBe('too_many_servers')
    await post(app, '/api/stop-python-server', { port: base + 4 })
  })

  test('a server is stopped after its lifetime; one that exits on its own is stopped with its exit code', async () => {
    const app = makeApp({ SERVERS_LIFETIME_S: '1' })
    const port = base + 5
    const { body } = await post(app, '/api/start-python-server', { pythonCode: HELLO, port })
    const expired = await until(async () => {
      const { body: list } = await get(app, '/api/list-python-servers')
      const entry = list.servers.find((s: { port: number }) => s.port === port)
      return entry.status === 'stopped' ? entry : undefined
    })
    expect(expired.output_tail).toContain('lifetime limit of 1 s')
    expect(alive(body.processId)).toBe(false)

    const quitter = base + 6
    await post(app, '/api/start-python-server', { pythonCode: 'print("bye")\nraise SystemExit(3)', port: quitter })
    const exited = await until(async () => {
      const { body: list } = await get(app, '/api/list-python-servers')
      const entry = list.servers.find((s: { port: number }) => s.port === quitter)
      return entry.status === 'stopped' ? entry : undefined
    })
    expect(exited).toMatchObject({ exitCode: 3, output_tail: 'bye\n' })
  })

  test('closing the manager kills every server and everything it started', async () => {
    const app = makeApp()
    const port = base + 7
    const code = 'import subprocess, os\nsubprocess.Popen(["sleep", "300"])\n' + HELLO
    const { body } = await post(app, '/api/start-python-server', { pythonCode: code, port })
    await fetchWhenUp(`http://127.0.0.1:${port}/`)
    await app.decorator.services.servers.close()
    expect(alive(body.processId)).toBe(false)
    const stray = Bun.spawnSync(['pgrep', '-u', '65534', '-f', 'sleep 300']).stdout.toString().trim()
    expect(stray).toBe('')
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow()
  })

  test('the routes are marked deprecated in the OpenAPI document', async () => {
    const { body } = await get(makeApp(), '/openapi/json')
    expect(body.paths['/api/start-python-server'].post.deprecated).toBe(true)
    expect(body.paths['/api/stop-python-server'].post.deprecated).toBe(true)
    expect(body.paths['/api/list-python-servers'].get.deprecated).toBe(true)
  })
})
