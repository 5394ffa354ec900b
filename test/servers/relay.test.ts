/**
 * The relay between the host's port and a learner server, attacked from inside the sandbox and flooded from
 * outside. Each test is an attack and what must happen instead.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { get, post } from '../support/http'
import { appFactory, freePortBlock } from './helpers'

// Starting sandboxes on a busy machine can take seconds: a guard against hangs, not a timing assertion.
setDefaultTimeout(30_000)

const first = await freePortBlock(6)
const makeApp = appFactory(first, 6)
const start = (app: ReturnType<typeof makeApp>, port: number, pythonCode: string) =>
  post(app, '/api/start-python-server', { pythonCode, port })

/**
 * Sends `request` on a fresh connection, half-closes, and resolves with everything that came back before the
 * connection ended (a reset ends it too: what matters is what came back).
 */
function exchange(port: number, request: string | Uint8Array): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const socket = connect(port, '127.0.0.1', () => socket.end(request))
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', () => {})
    socket.on('close', () => resolve(Buffer.concat(chunks).toString()))
  })
}

/** A single-threaded learner server that keeps every connection open and answers each request "pong". */
const HOLDS_CONNECTIONS = `
import os, selectors, socket
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(os.environ["PORT"])))
server.listen(128)
events = selectors.DefaultSelector()
events.register(server, selectors.EVENT_READ)
while True:
    for key, _ in events.select():
        if key.fileobj is server:
            client, _ = server.accept()
            events.register(client, selectors.EVENT_READ)
            continue
        try:
            data = key.fileobj.recv(65536)
        except OSError:
            data = b""
        if data:
            key.fileobj.sendall(b"HTTP/1.1 200 OK\\r\\ncontent-length: 4\\r\\n\\r\\npong")
        else:
            events.unregister(key.fileobj)
            key.fileobj.close()
`

describe('deprecated Python servers: the relay under attack', () => {
  // A root-only Unix socket of the host, as a Docker socket would be: whoever reaches it gets the secret.
  const hostDir = mkdtempSync(join(tmpdir(), 'relay-target-'))
  const hostSocket = join(hostDir, 'root-only.sock')
  let reached = 0
  const secretServer = Bun.listen({
    unix: hostSocket,
    socket: {
      open() {
        reached++
      },
      data(socket) {
        socket.end('HTTP/1.1 200 OK\r\ncontent-length: 11\r\nconnection: close\r\n\r\nHOST-SECRET')
      },
    },
  })
  chmodSync(hostSocket, 0o600)
  afterAll(() => {
    secretServer.stop(true)
    rmSync(hostDir, { recursive: true, force: true })
  })
  // What the learner runs first: every entry of /tmp (where the relay socket used to be) and the old relay
  // socket's name become symlinks to the host socket.
  const plantLinks = `
import os
for name in set(os.listdir("/tmp")) | {".relay.sock"}:
    path = os.path.join("/tmp", name)
    try:
        os.unlink(path)
    except OSError:
        pass
    os.symlink(${JSON.stringify(hostSocket)}, path)
`

  test.concurrent('symlinks planted in /tmp never lead a request to a host socket; requests still work', async () => {
    const app = makeApp()
    const [own, endpoints] = [first, first + 1]
    const ownServer = `${plantLinks}
import http.server
class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"learner's own server"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Hello).serve_forever()
`
    const endpointServer = `${plantLinks}
@endpoint
def links():
    return sorted(os.readlink(os.path.join("/tmp", name)) for name in os.listdir("/tmp"))
@endpoint('/add', methods=['POST'])
def add(a, b):
    return a + b
`
    const started = await Promise.all([start(app, own, ownServer), start(app, endpoints, endpointServer)])
    expect(started.map((reply) => reply.body.listening)).toEqual([true, true])

    expect(await (await fetch(`http://127.0.0.1:${own}/`)).text()).toBe("learner's own server")
    const links = await (await fetch(`http://127.0.0.1:${endpoints}/links`)).json()
    expect(links.result).toContain(hostSocket) // the attack is in place...
    const sum = await fetch(`http://127.0.0.1:${endpoints}/add`, {
      method: 'POST',
      body: JSON.stringify({ a: 2, b: 3 }),
    })
    expect(await sum.json()).toEqual({ result: 5 })
    for (const port of [own, endpoints]) {
      expect(await exchange(port, 'GET / HTTP/1.0\r\n\r\n')).not.toContain('HOST-SECRET')
    }
    expect(reached).toBe(0) // ...and the host socket was never even connected to
  })

  test.concurrent('a request body sent before a half-close gets its answer after it, large bodies intact', async () => {
    const app = makeApp()
    const port = first + 2
    const code = `
import hashlib, os, socket
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(os.environ["PORT"])))
server.listen()
while True:
    client, _ = server.accept()
    digest, size = hashlib.sha256(), 0
    while True:  # reads until the client half-closes
        chunk = client.recv(65536)
        if not chunk:
            break
        digest.update(chunk)
        size += len(chunk)
    client.sendall(("%d %s" % (size, digest.hexdigest())).encode())
    client.close()
`
    expect((await start(app, port, code)).body.listening).toBe(true)
    const payload = new Uint8Array(5 * 1024 * 1024).map((_, i) => (i * 7) % 253)
    const digest = new Bun.CryptoHasher('sha256').update(payload).digest('hex')
    const answers = await Promise.all([exchange(port, payload), exchange(port, payload), exchange(port, 'x')])
    const small = new Bun.CryptoHasher('sha256').update('x').digest('hex')
    expect(answers).toEqual([`${payload.length} ${digest}`, `${payload.length} ${digest}`, `1 ${small}`])
  })

  test.concurrent('connections beyond SERVERS_MAX_CONNECTIONS are closed at once; the relay survives them', async () => {
    const app = makeApp()
    const port = first + 3
    const limit = app.decorator.services.config.SERVERS_MAX_CONNECTIONS
    expect((await start(app, port, HOLDS_CONNECTIONS)).body.listening).toBe(true)

    // limit + 50 idle connections at once: the first `limit` stay open, the others are closed before any byte.
    const opened: { socket: Socket; closed: boolean; bytes: number }[] = []
    let refused = 0
    let allRefused!: () => void
    const refusedDone = new Promise<void>((resolve) => (allRefused = resolve))
    await Promise.all(
      Array.from(
        { length: limit + 50 },
        () =>
          new Promise<void>((resolve) => {
            const entry = { socket: connect(port, '127.0.0.1', resolve), closed: false, bytes: 0 }
            entry.socket.on('data', (chunk: Buffer) => (entry.bytes += chunk.length))
            entry.socket.on('error', () => {})
            entry.socket.on('close', () => {
              entry.closed = true
              if (++refused === 50) allRefused()
              resolve()
            })
            opened.push(entry)
          }),
      ),
    )
    await refusedDone
    const held = opened.filter((entry) => !entry.closed)
    expect(held).toHaveLength(limit)
    expect(opened.filter((entry) => entry.closed).every((entry) => entry.bytes === 0)).toBe(true)

    // Every held connection is carried to the learner's server and answers.
    const answers = await Promise.all(
      held.map(
        ({ socket }) =>
          new Promise<string>((resolve) => {
            let text = ''
            socket.on('data', (chunk: Buffer) => {
              text += chunk
              if (text.endsWith('pong')) resolve(text)
            })
            socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n')
          }),
      ),
    )
    expect(new Set(answers)).toEqual(new Set(['HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\npong']))

    // Closed by the clients, they free their slots: an ordinary request works again.
    await Promise.all(held.map(({ socket }) => new Promise((resolve) => socket.once('close', resolve).end())))
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('pong')
    expect((await get(app, '/health')).status).toBe(200)
  })

  test.concurrent("garbage written to the relay channel closes that server's connections, nothing else", async () => {
    const app = makeApp()
    const port = first + 4
    // The endpoint writes a frame of an unknown kind into the relay's channel (fd 4) before its answer does.
    const code = `
import os
@endpoint
def hello():
    os.write(4, b"\\xff" * 9)
    return "hi"
`
    expect((await start(app, port, code)).body.listening).toBe(true)
    expect(await exchange(port, 'GET /hello HTTP/1.0\r\n\r\n')).toBe('') // the answer never comes back
    const { body } = await get(app, `/api/python-servers/${port}/output`)
    expect(body).toMatchObject({ status: 'running' })
    expect(body.output_tail).toContain('[connections closed: bad frame from the sandbox')
    expect(await exchange(port, 'GET /hello HTTP/1.0\r\n\r\n')).toBe('') // closed at once; the port stays ours
    expect((await get(app, '/health')).status).toBe(200)
    await post(app, '/api/stop-python-server', { port })
    expect((await start(app, port, `print("next")\n${HOLDS_CONNECTIONS}`)).body.listening).toBe(true)
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('pong')
  })
})
