import { afterAll, describe, expect, test } from 'bun:test'
import { Elysia, t } from 'elysia'
import { treaty } from '@elysiajs/eden'
import { createApp } from '../../src/app'
import { AppError } from '../../src/errors'
import { testConfig } from '../support/config'
import { get, post } from '../support/http'
import { fakeService, memoryLogger } from '../support/services'

const ok = { ok: true }
const fakes = () => ({
  runner: fakeService({ python: { ok: true, version: '3.11.2' }, sandbox: ok, execution: { ok: true, mode: 'local' } }),
  providers: fakeService({ chat: { ok: true, openai: true, anthropic: false } }),
  tasks: fakeService({ tasks: ok }),
  servers: fakeService({}),
  browser: fakeService({}),
})

/** The real app plus a few test-only routes that fail in the ways the error envelope must cover. */
function appWithProbes(overrides: Record<string, string> = {}) {
  const logger = memoryLogger()
  const app = createApp({ config: testConfig(overrides), logger, ...(fakes() as any) }).use(
    new Elysia()
      .post('/probe/echo', ({ body }) => body, { body: t.Object({ name: t.String(), count: t.Number() }) })
      .get('/probe/boom', () => {
        throw new Error('secret detail at /home/app/src/x.ts')
      })
      .get('/probe/busy', () => {
        throw new AppError('queue_full', 503, 'Too many jobs', undefined, { 'retry-after': '2' })
      }),
  )
  return { app, logger }
}

describe('general routes', () => {
  test('GET / says the backend is running', async () => {
    const { app } = appWithProbes()
    const reply = await get(app, '/')
    expect(reply.status).toBe(200)
    expect(reply.body.message).toBe('AI Coding Assistant Backend is running!')
  })

  test('GET /health merges every service check and reports healthy', async () => {
    const { app } = appWithProbes()
    const { status, body } = await get(app, '/health')
    expect(status).toBe(200)
    expect(body).toEqual({
      status: 'healthy',
      message: 'All systems operational',
      version: expect.any(String),
      uptime_s: expect.any(Number),
      checks: {
        python: { ok: true, version: '3.11.2' },
        sandbox: ok,
        execution: { ok: true, mode: 'local' },
        chat: { ok: true, openai: true, anthropic: false },
        tasks: ok,
        access: { ok: true, mode: 'open' },
        limits: { ok: true, store: 'memory' },
        store: { ok: true, kind: 'sqlite', reachable: true, schema_version: 4 },
      },
    })
  })

  test('GET /health says degraded and names the failing check', async () => {
    const app = createApp({
      config: testConfig(),
      ...(fakes() as any),
      providers: fakeService({ chat: { ok: false, openai: false, anthropic: false } }),
    })
    const { body } = await get(app, '/health')
    expect(body.status).toBe('degraded')
    expect(body.message).toBe('Degraded: chat')
  })

  test('the real services report python, sandbox, execution mode and chat without any key', async () => {
    const app = createApp({ config: testConfig({ OPENAI_API_KEY: 'sk-should-not-leak' }) })
    const { body, status } = await get(app, '/health')
    expect(status).toBe(200)
    expect(Object.keys(body.checks)).toEqual(expect.arrayContaining(['python', 'sandbox', 'execution', 'chat']))
    expect(body.checks.python.ok).toBe(true)
    expect(body.checks.python.version).toMatch(/^3\.\d+/)
    expect(body.checks.execution.mode).toBe('local')
    expect(JSON.stringify(body)).not.toContain('sk-should-not-leak')
    await app.decorator.services.runner.close()
  })
})

describe('error envelope', () => {
  test('unknown route → 404 envelope', async () => {
    const { app } = appWithProbes()
    const reply = await get(app, '/no/such/route')
    expect(reply.status).toBe(404)
    expect(reply.body).toEqual({
      success: false,
      error: 'No route GET /no/such/route',
      error_type: 'not_found',
      request_id: reply.headers.get('x-request-id')!,
    })
  })

  test('schema failure → 422 validation_error with the offending fields', async () => {
    const { app } = appWithProbes()
    const reply = await post(app, '/probe/echo', { name: 'x', count: 'many' })
    expect(reply.status).toBe(422)
    expect(reply.body.success).toBe(false)
    expect(reply.body.error_type).toBe('validation_error')
    expect(reply.body.error).toContain('/count')
    expect(reply.body.details.errors.map((e: { path: string }) => e.path)).toEqual(['/count'])
  })

  test('malformed JSON → 400 invalid_json', async () => {
    const { app } = appWithProbes()
    const reply = await post(app, '/probe/echo', '{"name": ')
    expect(reply.status).toBe(400)
    expect(reply.body.error_type).toBe('invalid_json')
  })

  test('bodies from an allowed origin are JSON whatever the Content-Type; an empty body names the missing fields', async () => {
    const { app } = appWithProbes()
    const browser = { 'content-type': 'text/plain', origin: 'http://localhost:3000' }
    const plain = await post(app, '/probe/echo', { name: 'x', count: 2 }, browser)
    expect(plain.body).toEqual({ name: 'x', count: 2 })
    const empty = await post(app, '/probe/echo', '')
    expect(empty.status).toBe(422)
    expect(empty.body.details.errors.map((e: { path: string }) => e.path)).toEqual(['/name', '/count'])
  })

  test('oversized body → 413, with or without Content-Length', async () => {
    const { app } = appWithProbes({ MAX_BODY_BYTES: '2048' })
    const big = JSON.stringify({ name: 'x'.repeat(5000), count: 1 })
    const declared = await post(app, '/probe/echo', big, { 'content-length': String(big.length) })
    expect(declared.status).toBe(413)
    expect(declared.body).toMatchObject({ success: false, error_type: 'payload_too_large' })

    const chunked = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big))
        controller.close()
      },
    })
    const streamed = await app.handle(
      new Request('http://localhost/probe/echo', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: chunked,
      }),
    )
    expect(streamed.status).toBe(413)
    expect((await streamed.json()).error_type).toBe('payload_too_large')

    const small = await post(app, '/probe/echo', { name: 'x', count: 1 })
    expect(small.status).toBe(200)
    expect(small.body).toEqual({ name: 'x', count: 1 })
  })

  test('unexpected exception → 500 without details, logged with a stack', async () => {
    const { app, logger } = appWithProbes()
    const reply = await get(app, '/probe/boom')
    expect(reply.status).toBe(500)
    expect(reply.body.error_type).toBe('internal_error')
    expect(JSON.stringify(reply.body)).not.toContain('secret detail')
    expect(JSON.stringify(reply.body)).not.toContain('/home/')
    const logged = logger.lines.find((line) => line.msg === 'unhandled error')!
    expect(logged.request_id).toBe(reply.body.request_id)
    expect(String(logged.stack)).toContain('secret detail')
  })

  test('AppError headers reach the client (Retry-After on 503)', async () => {
    const { app } = appWithProbes()
    const reply = await get(app, '/probe/busy')
    expect(reply.status).toBe(503)
    expect(reply.headers.get('retry-after')).toBe('2')
    expect(reply.body.error_type).toBe('queue_full')
  })
})

describe('request ids and logs', () => {
  test('a sane client id is honoured, returned and logged with method, path, status and duration', async () => {
    const { app, logger } = appWithProbes()
    const reply = await get(app, '/', { 'x-request-id': 'abc-123' })
    expect(reply.headers.get('x-request-id')).toBe('abc-123')
    // The request line is written after the response is sent, so wait for it.
    const line = await logger.next((l) => l.msg === 'request' && l.request_id === 'abc-123')
    expect(line).toMatchObject({ level: 'info', method: 'GET', path: '/', status: 200 })
    expect(typeof line!.duration_ms).toBe('number')
  })

  test('a missing or unsafe id is replaced by a fresh one, also on errors', async () => {
    const { app, logger } = appWithProbes()
    const reply = await get(app, '/missing', { 'x-request-id': 'bad id; drop "table"' })
    const id = reply.headers.get('x-request-id')!
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    expect(reply.body.request_id).toBe(id)
    expect(await logger.next((l) => l.msg === 'request' && l.request_id === id)).toMatchObject({ status: 404 })
  })
})

describe('CORS', () => {
  test('allowed origins get the header, others do not', async () => {
    const { app } = appWithProbes({ CORS_ORIGINS: 'https://ide.example.com,http://localhost:*' })
    for (const origin of ['https://ide.example.com', 'http://localhost:5173']) {
      const reply = await get(app, '/', { origin })
      expect(reply.headers.get('access-control-allow-origin')).toBe(origin)
    }
    for (const origin of ['https://evil.example.com', 'http://localhost.evil.com:80', 'http://127.0.0.1:3000']) {
      const reply = await get(app, '/', { origin })
      expect(reply.headers.get('access-control-allow-origin')).toBeNull()
    }
  })

  test('preflight from an allowed origin is answered', async () => {
    const { app } = appWithProbes()
    const response = await app.handle(
      new Request('http://localhost/probe/echo', {
        method: 'OPTIONS',
        headers: {
          origin: 'http://localhost:3000',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      }),
    )
    expect(response.status).toBeLessThan(300)
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:3000')
    expect(response.headers.get('access-control-allow-methods')).toContain('POST')
  })
})

describe('OpenAPI', () => {
  test('the document lists every HTTP route of the app with a summary, tags and an error response', async () => {
    const app = createApp({ config: testConfig(), ...(fakes() as any) })
    const { body: doc, status } = await get(app, '/openapi/json')
    expect(status).toBe(200)
    const routes = app.routes.filter(
      (route) => !route.path.startsWith('/openapi') && ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(route.method),
    )
    expect(routes.length).toBeGreaterThan(1)
    for (const route of routes) {
      const path = route.path.replace(/:(\w+)/g, '{$1}')
      const operation = doc.paths[path]?.[route.method.toLowerCase()]
      const summary = { route: `${route.method} ${route.path}`, documented: Boolean(operation) }
      expect(summary).toEqual({ route: summary.route, documented: true })
      expect(operation.summary).toBeString()
      expect(operation.tags?.length).toBeGreaterThan(0)
      expect(Object.keys(operation.responses)).toContain('500')
      if (route.hooks.body) expect(operation.requestBody.content['application/json'].schema).toBeObject()
    }
    expect(doc.components.schemas.ErrorEnvelope.properties.error_type.type).toBe('string')
    expect(doc.paths['/health'].get.responses['200'].content['application/json'].schema).toEqual({
      anyOf: [{ $ref: '#/components/schemas/HealthResponse' }, { $ref: '#/components/schemas/HealthSummary' }],
    })
  })

  test('the explorer page and its assets are served locally (no CDN)', async () => {
    const { app } = appWithProbes()
    const page = await get(app, '/openapi')
    expect(page.status).toBe(200)
    expect(page.body).toContain('/openapi/assets/swagger-ui-bundle.js')
    expect(page.body).not.toContain('unpkg.com')
    const script = await app.handle(new Request('http://localhost/openapi/assets/swagger-ui-bundle.js'))
    expect(script.status).toBe(200)
    expect((await script.text()).length).toBeGreaterThan(100_000)
  })
})

describe('Eden Treaty', () => {
  test('a typed call through treaty(app)', async () => {
    const { app } = appWithProbes()
    const client = treaty(app)
    const { data, error } = await client.health.get()
    expect(error).toBeNull()
    expect(data && 'checks' in data ? data.checks.python?.ok : undefined).toBe(true)
  })
})

describe('real port', () => {
  const app = createApp({ config: testConfig(), ...(fakes() as any) }).listen({ hostname: '127.0.0.1', port: 0 })
  afterAll(() => app.stop())

  test('answers /health over HTTP on loopback', async () => {
    const response = await fetch(`http://127.0.0.1:${app.server!.port}/health`)
    expect(response.status).toBe(200)
    expect(response.headers.get('x-request-id')).toBeString()
    expect((await response.json()).status).toBe('healthy')
  })
})
