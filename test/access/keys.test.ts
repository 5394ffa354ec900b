/**
 * Access keys (src/access): with keys configured, every route but /, /health and the API explorer needs a
 * Bearer key; /ws/chat takes it as a header or `?token=` and closes with 4401 without one; the key's name is
 * the client identity; keys never reach the logs. Real WebSockets on 127.0.0.1 port 0 where a socket is needed.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAccess, OPEN_WARNING } from '../../src/access'
import { ConfigError } from '../../src/config'
import { answer } from '../support/fake-sse'
import { get, post, rawRequest } from '../support/http'
import { inertServers, testApp } from '../support/app'
import { keyHash } from '../support/keys'
import { memoryLogger } from '../support/services'
import { connectWs } from '../support/ws'
import { startServer } from '../support/process'
import { ask, startChat } from '../chat/harness'

const ALICE = 'alice-key-7f3a9c'
const BOB = 'bob-key-51e2d0'
const API_KEYS = `alice:${ALICE},bob:${BOB}`
const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

const logger = memoryLogger()
const listedFor: string[] = []
const app = testApp({
  config: { API_KEYS },
  logger,
  // Records who asks, to show the key's name is the client Python-server ownership is keyed on.
  servers: {
    ...inertServers(),
    list: (client) => {
      listedFor.push(client)
      return []
    },
  },
})

describe('protected routes', () => {
  test('a GET route: 401 without a key and with a wrong key, 200 with a right key', async () => {
    const none = await get(app, '/api/list-python-servers')
    expect(none.status).toBe(401)
    expect(none.body.error_type).toBe('unauthorized')
    expect(none.headers.get('www-authenticate')).toBe('Bearer')
    const wrong = await get(app, '/api/list-python-servers', bearer('alice-key-7f3a9d'))
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('www-authenticate')).toStartWith('Bearer')
    const right = await get(app, '/api/list-python-servers', bearer(ALICE))
    expect(right).toMatchObject({ status: 200, body: { servers: [] } })
  })

  test('a POST route: 401 without and with a wrong key, no code run; 200 with a right key', async () => {
    const harness = startChat({ openai: [answer('Hello.')], config: { API_KEYS } })
    try {
      const body = { messages: ask('Hi'), mode: 'chat' }
      const none = await post(harness.app, '/api/chat', body)
      expect(none.status).toBe(401)
      expect(none.body.error_type).toBe('unauthorized')
      expect((await post(harness.app, '/api/chat', body, { authorization: 'Basic YWxpY2U6eA==' })).status).toBe(401)
      expect((await post(harness.app, '/api/chat', body, bearer(BOB.toUpperCase()))).status).toBe(401)
      expect(harness.openai.requests).toHaveLength(0) // refused before the model was asked
      const right = await post(harness.app, '/api/chat', body, bearer(BOB))
      expect(right.status).toBe(200)
      expect(right.body.response).toBe('Hello.')
    } finally {
      await harness.stop()
    }
  })

  test('/, /openapi/json and CORS preflights need no key', async () => {
    expect((await get(app, '/')).status).toBe(200)
    expect((await get(app, '/openapi/json')).status).toBe(200)
    const preflight = await app.handle(
      new Request('http://localhost/api/execute-test-cases', {
        method: 'OPTIONS',
        headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' },
      }),
    )
    expect(preflight.status).toBeLessThan(300)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:3000')
  })

  test('the OpenAPI document declares the key and the 401 on protected routes only', async () => {
    const doc = (await get(app, '/openapi/json')).body
    expect(doc.components.securitySchemes.accessKey).toMatchObject({ type: 'http', scheme: 'bearer' })
    const chat = doc.paths['/api/chat'].post
    expect(chat.security).toEqual([{ accessKey: [] }])
    expect(chat.responses['401'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/ErrorEnvelope',
    })
    expect(doc.paths['/health'].get.responses['401']).toBeUndefined()
    expect(doc.paths['/health'].get.security).toBeUndefined()
  })

  test('/health without a key says only status, message and version; with a key, the checks and the key count', async () => {
    const open = await get(app, '/health')
    expect(open.status).toBe(200)
    expect(Object.keys(open.body).sort()).toEqual(['message', 'status', 'version'])
    const detailed = await get(app, '/health', bearer(ALICE))
    expect(detailed.body.checks.access).toEqual({ ok: true, mode: 'keys', keys: 2 })
    expect(JSON.stringify(detailed.body)).not.toContain(keyHash(ALICE).slice(7, 20))
  })
})

test('an HTTP/1.0 request without a Host header gets the 401 envelope, or is served with a key (not a 500)', async () => {
  const server = testApp({ config: { API_KEYS } }).listen({ hostname: '127.0.0.1', port: 0 })
  try {
    const port = server.server!.port!
    const none = await rawRequest(port, 'GET /tasks HTTP/1.0\r\n\r\n')
    expect(none.split('\r\n')[0]).toBe('HTTP/1.1 401 Unauthorized')
    expect(none).toContain('"error_type":"unauthorized"')
    const keyed = await rawRequest(port, `GET /tasks?x=1 HTTP/1.0\r\nAuthorization: Bearer ${ALICE}\r\n\r\n`)
    expect(keyed.split('\r\n')[0]).toBe('HTTP/1.1 200 OK')
  } finally {
    server.stop(true)
  }
})

describe('identity', () => {
  test("two keys are two clients: the key's name reaches the Python-server manager", async () => {
    listedFor.length = 0
    await get(app, '/api/list-python-servers', bearer(ALICE))
    await get(app, '/api/list-python-servers', bearer(BOB))
    expect(listedFor).toEqual(['alice', 'bob'])
  })

  test('a key never appears in the logs; the request line names the client by its key name', async () => {
    logger.lines.length = 0
    const line = (path: string, status: number) =>
      logger.next((l) => l.msg === 'request' && l.path === path && l.status === status)
    await get(app, '/api/list-python-servers', bearer(ALICE))
    expect((await line('/api/list-python-servers', 200)).client).toBe('alice')
    await get(app, '/api/list-python-servers', bearer(`${BOB}x`))
    expect((await line('/api/list-python-servers', 401)).client).toBe('local') // no valid key: the peer address (none in process)
    const run = await post(app, '/api/execute-test-cases', { code: 'def f(): return 1', cases: [] }, bearer(BOB))
    expect(run.status).not.toBe(401)
    expect((await line('/api/execute-test-cases', run.status)).client).toBe('bob')
    const text = JSON.stringify(logger.lines)
    for (const secret of [ALICE, BOB]) expect(text).not.toContain(secret)
  })

  test('without keys the server is open and says so in /health', async () => {
    const openApp = testApp()
    expect((await get(openApp, '/api/list-python-servers')).status).toBe(200)
    expect((await get(openApp, '/health')).body.checks.access).toEqual({ ok: true, mode: 'open' })
  })
})

describe('/ws/chat', () => {
  test('?token= or the header opens a working chat; no key or a wrong one closes with 4401', async () => {
    const harness = startChat({ openai: [answer('Hi there.'), answer('Again.')], config: { API_KEYS } })
    try {
      const ws = await connectWs(`${harness.wsUrl}?token=${ALICE}`)
      ws.send({ messages: ask('Hi'), mode: 'chat' })
      expect((await ws.response()).at(-1)).toMatchObject({ type: 'complete', content: 'Hi there.' })
      await ws.close()

      const viaHeader = new WebSocket(harness.wsUrl, { headers: bearer(BOB) } as any)
      await new Promise((resolve) => viaHeader.addEventListener('open', resolve, { once: true }))
      const frame = new Promise<any>((resolve) =>
        viaHeader.addEventListener('message', (e) => resolve(JSON.parse(String(e.data)))),
      )
      viaHeader.send(JSON.stringify({ messages: ask('Hi'), mode: 'chat' }))
      expect((await frame).type).not.toBe('error')
      viaHeader.close()

      expect(await (await connectWs(harness.wsUrl)).closed).toBe(4401)
      expect(await (await connectWs(`${harness.wsUrl}?token=${BOB}0`)).closed).toBe(4401)
      expect(harness.openai.requests).toHaveLength(2)
    } finally {
      await harness.stop()
    }
  })
})

describe('key sources', () => {
  const dir = mkdtempSync(join(tmpdir(), 'access-keys-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const file = (name: string, text: string) => {
    const path = join(dir, name)
    writeFileSync(path, text)
    return path
  }
  const request = (key: string) => new Request('http://localhost/api/tasks', { headers: bearer(key) })

  test('API_KEYS_FILE as JSON, with roles', () => {
    const path = file(
      'keys.json',
      JSON.stringify([
        { name: 'teacher', hash: keyHash('t-key'), role: 'admin' },
        { name: 'ann', hash: keyHash('a-key') },
      ]),
    )
    const access = createAccess({ API_KEYS: undefined, API_KEYS_FILE: path })
    expect(access.identity(request('t-key'))).toEqual({ name: 'teacher', role: 'admin' })
    expect(access.identity(request('a-key'))).toEqual({ name: 'ann', role: 'learner' })
    expect(access.identity(request('nope'))).toBeUndefined()
  })

  test('API_KEYS_FILE as lines, added to API_KEYS; bare keys are named key-1, key-2', () => {
    const path = file(
      'keys.txt',
      `# name hash role\nann ${keyHash('a-key')}\n\nteacher ${keyHash('t-key')} admin # the teacher\n`,
    )
    const access = createAccess({ API_KEYS: 'first-bare,second-bare', API_KEYS_FILE: path })
    expect(access.identity(request('t-key'))).toEqual({ name: 'teacher', role: 'admin' })
    expect(access.identity(request('a-key'))?.name).toBe('ann')
    expect(access.identity(request('second-bare'))?.name).toBe('key-2')
    expect(access.health()).toEqual({ access: { ok: true, mode: 'keys', keys: 4 } })
  })

  test('a bad entry or file is a configuration error that names the place, never the key', () => {
    const path = file('bad.txt', `ann sha256:1234\nbob ${keyHash('b')} root\n`)
    const attempt = () => createAccess({ API_KEYS: 'carol:carol-secret,carol:other-secret', API_KEYS_FILE: path })
    expect(attempt).toThrow(ConfigError)
    const message = (() => {
      try {
        attempt()
      } catch (error) {
        return (error as Error).message
      }
    })()!
    expect(message).toContain('line 1 (ann): hash must be')
    expect(message).toContain('line 2 (bob): role must be')
    expect(message).toContain('carol is used twice')
    expect(message).not.toContain('secret')
    expect(() => createAccess({ API_KEYS: undefined, API_KEYS_FILE: join(dir, 'missing') })).toThrow(
      'cannot read (ENOENT)',
    )
  })
})

describe('the server process', () => {
  test('warns at start-up when it is open', async () => {
    const server = startServer({ LOG_LEVEL: 'info', EXEC_POOL_SIZE: '0' })
    const { url } = await server.line('listening')
    expect(await server.line(OPEN_WARNING)).toMatchObject({ level: 'warn' })
    // Stopped only once it serves, so the stop does not race its start-up.
    expect((await (await fetch(`${url}/health`)).json()).checks.access).toEqual({ ok: true, mode: 'open' })
    server.proc.kill('SIGTERM')
    expect(await server.proc.exited).toBe(0)
  })

  test('refuses to start with an unreadable key file, naming it', async () => {
    const server = startServer({ API_KEYS_FILE: '/nonexistent/keys.txt' })
    expect(await server.proc.exited).toBe(2)
    expect(await server.stderr()).toContain('API_KEYS_FILE /nonexistent/keys.txt: cannot read (ENOENT)')
  })
})
