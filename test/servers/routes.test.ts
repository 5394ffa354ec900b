/** Start, call, list and stop learner servers through the routes, with real sandboxes and real HTTP. */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { get, post } from '../support/http'
import { HELLO, alive, appFactory, freePortBlock, probePort, processesMatching, sleepMarker } from './helpers'

// Starting sandboxes on a busy machine can take seconds: a guard against hangs, not a timing assertion.
setDefaultTimeout(30_000)

const first = await freePortBlock(7)
const makeApp = appFactory(first, 7)

describe('deprecated Python servers: routes', () => {
  test.concurrent('a plain http.server program is reachable, listed, then stopped with every process it started', async () => {
    const app = makeApp()
    const port = first
    const marker = sleepMarker()
    const code = `import subprocess\nsubprocess.Popen(["sleep", "${marker}"])\n${HELLO}`
    const started = await post(app, '/api/start-python-server', { pythonCode: code, port })
    expect(started).toMatchObject({ status: 200 })
    expect(started.body).toEqual({
      success: true,
      port,
      processId: expect.any(Number),
      message: `Python server started on port ${port}`,
      listening: true,
      owner_token: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), // 128 random bits
    })
    const { processId } = started.body

    const hello = await fetch(`http://127.0.0.1:${port}/`)
    expect(await hello.text()).toBe(`hello from ${port}`)
    expect(processesMatching(`sleep ${marker}`)).not.toBe('')

    const listed = await get(app, '/api/list-python-servers')
    expect(listed.body.servers).toEqual([
      {
        port,
        processId,
        status: 'running',
        startTime: expect.any(String),
        stopTime: null,
        stopReason: null,
        exitCode: null,
        sandboxed: true,
        owned: true,
        output_tail: expect.any(String),
      },
    ])
    const { startTime } = listed.body.servers[0]
    expect(new Date(startTime).toISOString()).toBe(startTime)

    const stopped = await post(app, '/api/stop-python-server', { port })
    expect(stopped).toMatchObject({
      status: 200,
      body: { success: true, message: `Python server on port ${port} stopped` },
    })
    expect(alive(processId)).toBe(false)
    expect(processesMatching(`sleep ${marker}`)).toBe('')
    expect(await probePort(port)).toBe('refused')
    const after = await get(app, '/api/list-python-servers')
    expect(after.body.servers[0]).toMatchObject({ port, status: 'stopped', stopReason: 'stopped' })

    const again = await post(app, '/api/stop-python-server', { port })
    expect(again.status).toBe(404)
  })

  test.concurrent('a program of @endpoint functions is served over HTTP in every decorator form', async () => {
    const app = makeApp()
    const port = first + 1
    const code = [
      '@endpoint',
      'def hello(name="world"):',
      '    return "hi " + name',
      '@endpoint()',
      'def pair(a: int, b: int):',
      '    return (a, b)',
      "@endpoint('/add', methods=['POST'])",
      'def add(a, b):',
      '    return a + b',
      "@endpoint(path='/boom')",
      'def boom():',
      '    return 1 / 0',
      "@endpoint('nested/path')",
      'def nested():',
      '    return {"ok": True}',
    ].join('\n')
    const started = await post(app, '/api/start-python-server', { pythonCode: code, port })
    expect(started.body).toMatchObject({ success: true, listening: true })
    const url = `http://127.0.0.1:${port}`
    const call = async (path: string, init?: RequestInit) => {
      const response = await fetch(url + path, init)
      return {
        status: response.status,
        body: await response.json(),
        cors: response.headers.get('access-control-allow-origin'),
      }
    }
    const json = (body: unknown) => ({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })

    expect(await call('/hello')).toEqual({ status: 200, body: { result: 'hi world' }, cors: '*' })
    expect(await call('/hello?name=ada')).toEqual({ status: 200, body: { result: 'hi ada' }, cors: '*' })
    expect((await call('/pair?a=1&b=2')).body).toEqual({ result: [1, 2] })
    expect((await call('/add', json({ a: 2, b: 3 }))).body).toEqual({ result: 5 })
    expect((await call('/nested/path')).body).toEqual({ result: { ok: true } })

    const wrongMethod = await call('/add')
    expect(wrongMethod.status).toBe(405)
    const badArgs = await call('/add', json({ a: 1 }))
    expect(badArgs.status).toBe(400)
    expect(badArgs.body.error).toContain("'b'")
    expect((await call('/add', { method: 'POST', body: '[1, 2]' })).status).toBe(400)
    const failing = await call('/boom')
    expect(failing).toEqual({ status: 500, body: { error: 'ZeroDivisionError: division by zero' }, cors: '*' })
    const missing = await call('/nope')
    expect(missing.status).toBe(404)
    expect(missing.body.error).toBe('No endpoint /nope; have: /add, /boom, /hello, /nested/path, /pair')

    const output = await get(app, `/api/python-servers/${port}/output`)
    expect(output.body.output_tail).toContain('ZeroDivisionError')
    await post(app, '/api/stop-python-server', { port })
  })

  test.concurrent('large requests and responses pass the relay intact in both directions', async () => {
    const app = makeApp()
    const port = first + 2
    const code = `
import http.server, os, hashlib
class Echo(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        data = self.rfile.read(int(self.headers["content-length"]))
        body = hashlib.sha256(data).hexdigest().encode() + b"\\n" + data
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Echo).serve_forever()
`
    expect((await post(app, '/api/start-python-server', { pythonCode: code, port })).body.listening).toBe(true)
    const payload = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) % 251)
    const digest = new Bun.CryptoHasher('sha256').update(payload).digest('hex')
    const replies = await Promise.all(
      [1, 2, 3].map(() =>
        fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: payload }).then((r) => r.arrayBuffer()),
      ),
    )
    for (const reply of replies) {
      const bytes = new Uint8Array(reply)
      expect(new TextDecoder().decode(bytes.subarray(0, 64))).toBe(digest)
      expect(Buffer.compare(bytes.subarray(65), payload)).toBe(0)
    }
    await post(app, '/api/stop-python-server', { port })
  })

  test.concurrent('a program that ends before it listens is a 200 with success false and its output', async () => {
    const app = makeApp()
    const quitter = await post(app, '/api/start-python-server', {
      pythonCode: 'print("bye")\nraise SystemExit(3)',
      port: first + 3,
    })
    expect(quitter).toMatchObject({ status: 200 })
    expect(quitter.body).toEqual({
      success: false,
      error_type: 'runtime_error',
      error: `The program exited with code 3 before it listened on port ${first + 3}; see output_tail`,
      port: first + 3,
      processId: expect.any(Number),
      exitCode: 3,
      output_tail: 'bye\n',
      owner_token: expect.any(String),
    })
    const broken = await post(app, '/api/start-python-server', { pythonCode: 'def f(:\n  pass', port: first + 4 })
    expect(broken.body).toMatchObject({ success: false, exitCode: 1 })
    expect(broken.body.output_tail).toContain('SyntaxError')
    expect(broken.body.output_tail).not.toContain('serve')

    const { body } = await get(app, '/api/list-python-servers')
    expect(
      body.servers.map((s: { port: number; status: string; stopReason: string }) => [s.port, s.status, s.stopReason]),
    ).toEqual([
      [first + 3, 'stopped', 'exited'],
      [first + 4, 'stopped', 'exited'],
    ])
  })

  test.concurrent('the output tail is bounded: 4 KB in the list, 64 KB from the output route', async () => {
    const app = makeApp()
    const port = first + 5
    const code = 'for i in range(20000):\n    print("line %05d" % i)\nprint("the end")'
    expect((await post(app, '/api/start-python-server', { pythonCode: code, port })).status).toBe(200)
    await app.decorator.services.servers.whenStopped(port)
    const { body } = await get(app, `/api/python-servers/${port}/output`)
    expect(body).toMatchObject({ port, status: 'stopped' })
    expect(body.output_tail.length).toBe(64 * 1024)
    expect(body.output_tail.endsWith('line 19999\nthe end\n')).toBe(true)
    const listed = (await get(app, '/api/list-python-servers')).body.servers[0]
    expect(listed.output_tail).toBe(body.output_tail.slice(-4096))
    expect((await get(app, `/api/python-servers/${first}/output`)).status).toBe(404)
  })

  test.concurrent('with SANDBOX=off the program binds the port itself, with the same environment and kill path', async () => {
    const app = makeApp({ SANDBOX: 'off' })
    const port = first + 6
    const marker = sleepMarker()
    const code = `
import http.server, json, os, subprocess
subprocess.Popen(["sleep", "${marker}"])
class Env(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(sorted(os.environ)).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Env).serve_forever()
`
    const started = await post(app, '/api/start-python-server', { pythonCode: code, port })
    expect(started.body).toMatchObject({ success: true, listening: true })
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).json()).toEqual(['HOME', 'LANG', 'PATH', 'PORT'])
    expect((await get(app, '/api/list-python-servers')).body.servers[0]).toMatchObject({ port, sandboxed: false })
    await post(app, '/api/stop-python-server', { port })
    expect(alive(started.body.processId)).toBe(false)
    expect(processesMatching(`sleep ${marker}`)).toBe('')
    expect(await probePort(port)).toBe('refused')
  })

  test('the routes are marked deprecated in the OpenAPI document, under one tag', async () => {
    const { body } = await get(makeApp(), '/openapi/json')
    const operations = [
      body.paths['/api/start-python-server'].post,
      body.paths['/api/stop-python-server'].post,
      body.paths['/api/list-python-servers'].get,
      body.paths['/api/python-servers/{port}/output'].get,
    ]
    for (const operation of operations) {
      expect(operation).toMatchObject({ deprecated: true, tags: ['Python servers (deprecated)'] })
    }
  })
})
