/**
 * Cross-site requests and foreign hosts: what a hostile page in the learner's browser can make the browser send
 * (a text/plain POST without preflight, a WebSocket, DNS rebinding) never reaches a handler.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { createApp } from '../../src/app'
import { originPolicy } from '../../src/http/cors'
import { hostPolicy } from '../../src/http/guard'
import { startChat, ask } from '../chat/harness'
import { answer } from '../support/fake-sse'
import { testConfig } from '../support/config'
import { get, post, rawRequest } from '../support/http'
import { fakeService } from '../support/services'

/** The real app with a runner and a server manager that record every call instead of running anything. */
function recordingApp(overrides: Record<string, string> = {}) {
  const calls: string[] = []
  const runner = Object.assign(fakeService({}), {
    method: 'local_sandbox',
    run: async (job: { op: string }) => {
      calls.push(`run ${job.op}`)
      return { messages: [{ type: 'endpoints', endpoints: [] }], stdout: '', stderr: '', method: 'local_sandbox' }
    },
  })
  const servers = Object.assign(fakeService({}), {
    start: async (_code: string, port: number) => {
      calls.push(`start ${port}`)
      throw new Error('not in this test')
    },
    list: () => [],
  })
  const app = createApp({
    config: testConfig(overrides),
    runner: runner as any,
    servers: servers as any,
    tasks: fakeService({}) as any,
    providers: fakeService({}) as any,
  })
  return { app, calls }
}

const code = '@endpoint\ndef add(a, b):\n    return a + b\n'
const textPlain = (origin?: string) => ({ 'content-type': 'text/plain', ...(origin ? { origin } : {}) })

describe('state-changing requests from other sites', () => {
  test('a text/plain POST from a foreign origin runs no code and starts no server (403)', async () => {
    const { app, calls } = recordingApp()
    const execute = await post(
      app,
      '/api/execute-endpoint',
      { pythonCode: code, endpoint: '/add' },
      textPlain('https://evil.example'),
    )
    const start = await post(
      app,
      '/api/start-python-server',
      { pythonCode: code, port: 5000 },
      textPlain('https://evil.example'),
    )
    for (const reply of [execute, start]) {
      expect(reply.status).toBe(403)
      expect(reply.body).toMatchObject({ success: false, error_type: 'origin_not_allowed' })
      expect(reply.headers.get('access-control-allow-origin')).toBeNull()
    }
    expect(calls).toEqual([])
  })

  test('an allowed origin may send text/plain (browsers do, to skip a preflight)', async () => {
    const { app, calls } = recordingApp()
    const reply = await post(app, '/api/execute-endpoint', { pythonCode: code }, textPlain('http://localhost:5173'))
    expect(reply.status).toBe(200)
    expect(reply.body).toMatchObject({ success: true, count: 0 })
    expect(calls).toEqual(['run parse'])
  })

  test('without an Origin the body must be declared JSON (415), and then it runs', async () => {
    const { app, calls } = recordingApp()
    const plain = await post(app, '/api/execute-endpoint', { pythonCode: code }, textPlain())
    expect(plain.status).toBe(415)
    expect(plain.body).toMatchObject({ success: false, error_type: 'unsupported_media_type' })
    expect(calls).toEqual([])
    for (const type of ['application/json', 'application/json; charset=utf-8', 'application/vnd.api+json']) {
      expect((await post(app, '/api/execute-endpoint', { pythonCode: code }, { 'content-type': type })).status).toBe(
        200,
      )
    }
    expect(calls).toEqual(['run parse', 'run parse', 'run parse'])
  })

  test('origins with a port that is not a port are not allowed', async () => {
    const { app, calls } = recordingApp()
    for (const origin of [
      'http://localhost:99999',
      'http://localhost:0x50',
      'http://localhost:',
      'http://localhost:0',
      'null',
    ]) {
      const reply = await post(app, '/api/execute-endpoint', { pythonCode: code }, { origin })
      expect({ origin, status: reply.status }).toEqual({ origin, status: 403 })
    }
    expect(calls).toEqual([])
    const policy = originPolicy('http://localhost:*,https://ide.example.com')
    expect(
      ['http://localhost', 'http://localhost:65535', 'https://ide.example.com', 'https://IDE.example.com:443'].map(
        policy.allows,
      ),
    ).toEqual([true, true, true, true])
    expect(
      [
        'ftp://localhost:21',
        'http://localhost:3000/',
        'http://user@localhost:3000',
        'https://ide.example.com.evil.example',
      ].map(policy.allows),
    ).toEqual([false, false, false, false])
  })

  test('reads from a foreign origin still work, without CORS permission to read them', async () => {
    const { app } = recordingApp()
    const reply = await get(app, '/', { origin: 'https://evil.example' })
    expect(reply.status).toBe(200)
    expect(reply.headers.get('access-control-allow-origin')).toBeNull()
  })
})

describe('CORS credentials', () => {
  test('only an allowed origin is allowed credentials', async () => {
    const { app } = recordingApp()
    const allowed = await get(app, '/', { origin: 'http://localhost:3000' })
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:3000')
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true')
    expect(allowed.headers.get('vary')).toContain('Origin')
    // @elysiajs/cors sends `allow-credentials` on every answer; without `allow-origin` it grants nothing.
    for (const origin of ['https://evil.example', 'http://localhost:99999']) {
      const refused = await get(app, '/', { origin })
      expect(refused.headers.get('access-control-allow-origin')).toBeNull()
    }
  })

  test('a disallowed origin gets no permission in its preflight', async () => {
    const { app } = recordingApp()
    const preflight = (origin: string) =>
      app.handle(
        new Request('http://localhost/api/execute-endpoint', {
          method: 'OPTIONS',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'content-type',
          },
        }),
      )
    const refused = await preflight('https://evil.example')
    // The methods and headers a preflight lists grant nothing without `allow-origin` (@elysiajs/cors lists them).
    expect(refused.status).toBe(204)
    expect(refused.headers.get('access-control-allow-origin')).toBeNull()
    const allowed = await preflight('http://127.0.0.1:8080')
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8080')
    expect(allowed.headers.get('access-control-allow-headers')).toBe('content-type')
  })

  test('CORS_ORIGINS=* lets every page call and read, never with credentials', async () => {
    const { app, calls } = recordingApp({ CORS_ORIGINS: '*' })
    const reply = await post(app, '/api/execute-endpoint', { pythonCode: code }, textPlain('https://anywhere.example'))
    expect(reply.status).toBe(200)
    expect(reply.headers.get('access-control-allow-origin')).toBe('*')
    expect(reply.headers.get('access-control-allow-credentials')).toBeNull()
    expect(calls).toEqual(['run parse'])
  })
})

describe('foreign Host names (DNS rebinding)', () => {
  const app = createApp({
    config: testConfig(),
    ...(Object.fromEntries(['runner', 'servers', 'tasks', 'providers'].map((k) => [k, fakeService({})])) as any),
  }).listen({
    hostname: '127.0.0.1',
    port: 0,
  })
  const base = `http://127.0.0.1:${app.server!.port}`
  afterAll(() => app.stop(true))

  test('every route refuses a Host that is not ours (421), reads included', async () => {
    for (const path of ['/', '/health', '/tasks', '/openapi/json']) {
      const response = await fetch(base + path, { headers: { host: 'rebind.evil.example' } })
      expect({ path, status: response.status }).toEqual({ path, status: 421 })
      expect(await response.json()).toMatchObject({ success: false, error_type: 'host_not_allowed' })
    }
    const write = await fetch(`${base}/api/validate-python`, {
      method: 'POST',
      headers: { host: 'rebind.evil.example:4828', 'content-type': 'application/json' },
      body: JSON.stringify({ pythonCode: 'x = 1' }),
    })
    expect(write.status).toBe(421)
  })

  test('the loopback names and the listen address are ours, on any port', async () => {
    for (const host of [`127.0.0.1:${app.server!.port}`, 'localhost', 'LOCALHOST.:8080', '[::1]:4828']) {
      const response = await fetch(`${base}/`, { headers: { host } })
      expect({ host, status: response.status }).toEqual({ host, status: 200 })
    }
  })

  test('a request without a Host header (HTTP/1.0, not a browser) is served', async () => {
    const reply = await rawRequest(app.server!.port!, 'GET / HTTP/1.0\r\n\r\n')
    expect(reply.split('\r\n')[0]).toBe('HTTP/1.1 200 OK')
  })

  test('ALLOWED_HOSTS names the hosts; a wildcard HOST adds nothing; `*` turns the check off', () => {
    const named = hostPolicy('tutor.example.com, 10.0.0.5', '0.0.0.0')
    expect(['tutor.example.com:443', '10.0.0.5', 'localhost', 'evil.example'].map(named)).toEqual([
      true,
      true,
      false,
      false,
    ])
    const byDefault = hostPolicy(undefined, '0.0.0.0')
    expect(['localhost:1', '127.0.0.1', '[::1]', '0.0.0.0', 'evil@localhost', 'localhost/x'].map(byDefault)).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
    ])
    expect(hostPolicy(undefined, '10.1.2.3')('10.1.2.3:4828')).toBe(true)
    expect(hostPolicy('*', '127.0.0.1')('anything.example')).toBe(true)
  })
})

describe('the chat WebSocket', () => {
  const chat = startChat({ openai: [answer('hello')], config: { CORS_ORIGINS: 'https://ide.example.com' } })
  afterAll(() => chat.stop())

  const open = (origin: string) =>
    new Promise<string>((resolve) => {
      const socket = new WebSocket(chat.wsUrl, { headers: { origin } } as unknown as string[])
      socket.addEventListener('open', () => {
        socket.close()
        resolve('open')
      })
      socket.addEventListener('error', () => resolve('refused'))
    })

  test('an upgrade from a disallowed origin is refused before any chat (403)', async () => {
    expect(await open('https://evil.example')).toBe('refused')
    const upgrade = await fetch(chat.wsUrl.replace('ws:', 'http:'), {
      headers: {
        origin: 'https://evil.example',
        upgrade: 'websocket',
        connection: 'Upgrade',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-version': '13',
      },
    })
    expect(upgrade.status).toBe(403)
    expect((await upgrade.json()).error_type).toBe('origin_not_allowed')
    expect(chat.openai.requests).toEqual([])
  })

  test('an allowed origin chats as before', async () => {
    expect(await open('https://ide.example.com')).toBe('open')
    const ws = await chat.connect() // no Origin: not a browser, not refused
    ws.send({ messages: ask('Hi'), model: 'gpt-test', mode: 'chat' })
    expect((await ws.response()).at(-1)).toMatchObject({ type: 'complete', content: 'hello' })
    await ws.close()
  })
})

describe('the OpenAPI document', () => {
  test('declares the guard refusals: 421 on every route, 403 and 415 on state-changing ones', async () => {
    const { app } = recordingApp()
    const { body } = await get(app, '/openapi/json')
    const post = body.paths['/api/execute-endpoint'].post.responses
    const read = body.paths['/health'].get.responses
    expect(Object.keys(post)).toEqual(expect.arrayContaining(['403', '415', '421']))
    expect(Object.keys(read)).toContain('421')
    expect(Object.keys(read)).not.toContain('403')
    expect(post['421'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ErrorEnvelope' })
    expect(body.components.schemas.ErrorEnvelope).toBeDefined()
  })
})
