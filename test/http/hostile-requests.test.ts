/**
 * The request path against hostile clients: a body nested a million deep is refused before it is parsed or
 * validated (it used to hold the event loop for seconds), on every route and on the chat socket; a trailing slash
 * is the same route to the rate limits and the audit as to the router.
 */
import { describe, expect, test } from 'bun:test'
import { testApp } from '../support/app'
import { get, post } from '../support/http'
import { memoryLogger } from '../support/services'
import { connectWs } from '../support/ws'

const nested = (depth: number, inner = '1') => '['.repeat(depth) + inner + ']'.repeat(depth)
const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)

describe('a deeply nested body', () => {
  const app = testApp()
  const attacks: [string, string][] = [
    ['/api/chat', nested(400_000)],
    ['/api/stop-python-server', `{"port": ${nested(400_000)}}`],
    ['/api/load-test-cases', `{"task": {"tests": ${deepObject(100_000)}}}`],
    ['/api/execute-test-cases', `{"backendCode": "x", "testCases": [{"name": "t", "expected": ${nested(65)}}]}`],
    ['/api/grade/', nested(200_000)],
  ]

  for (const [path, body] of attacks) {
    test(`${path}: 400 body_too_deep in the envelope, the value not echoed`, async () => {
      const reply = await post(app, path, body)
      expect(reply.status).toBe(400)
      expect(reply.body).toMatchObject({ success: false, error_type: 'body_too_deep', details: { max_depth: 64 } })
      expect(JSON.stringify(reply.body).length).toBeLessThan(400)
    })
  }

  test('nesting up to MAX_BODY_DEPTH is still accepted (the route validates it as usual)', async () => {
    const reply = await post(app, '/api/stop-python-server', `{"port": ${nested(63)}}`)
    expect(reply.status).toBe(422)
    expect(reply.body.error_type).toBe('validation_error')
    expect(JSON.stringify(reply.body)).not.toContain('[[[[')
  })

  test('brackets inside strings do not count', async () => {
    const reply = await post(app, '/api/stop-python-server', { port: '['.repeat(10_000) })
    expect(reply.status).toBe(422)
  })

  test('the limit is a setting', async () => {
    const strict = testApp({ config: { MAX_BODY_DEPTH: '8' } })
    expect((await post(strict, '/api/stop-python-server', `{"port": ${nested(8)}}`)).body.error_type).toBe(
      'body_too_deep',
    )
  })
})

test('a chat frame nested too deep gets an error frame before any parse, and the socket stays open', async () => {
  const app = testApp().listen({ hostname: '127.0.0.1', port: 0 })
  try {
    const ws = await connectWs(`ws://127.0.0.1:${app.server!.port}/ws/chat`)
    ws.send(`{"messages": ${nested(300_000)}}`)
    expect(await ws.next()).toMatchObject({ type: 'error', error_type: 'body_too_deep' })
    ws.send('{"messages": 5}')
    expect(await ws.next()).toMatchObject({ type: 'error', error_type: 'bad_frame' })
    expect(ws.socket.readyState).toBe(WebSocket.OPEN)
    await ws.close()
  } finally {
    await app.stop(true)
  }
})

describe('a trailing slash is the same route', () => {
  const PY = '@endpoint\ndef f():\n    return 1\n'

  test('to the per-minute limits: /api/validate-python/ counts against the same allowance', async () => {
    const app = testApp({ real: ['runner'], config: { RATE_EXECUTION_PER_MIN: '2' } })
    const spellings = ['/api/validate-python/', '/api/validate-python', '/api/validate-python/', '/api/grade/']
    const statuses = []
    for (const path of spellings) statuses.push((await post(app, path, { pythonCode: PY, task: 'x' })).status)
    expect(statuses).toEqual([200, 200, 429, 429])
  })

  test('to the judge limit: /api/llm-judge/ is refused after RATE_JUDGE_PER_MIN', async () => {
    const app = testApp({ config: { RATE_JUDGE_PER_MIN: '1' } })
    await post(app, '/api/llm-judge/', {})
    const second = await post(app, '/api/llm-judge/', {})
    expect(second.status).toBe(429)
    expect(second.body.details).toMatchObject({ route_class: 'judge' })
  })

  test('to the audit: /api/validate-python/ and /api/grade leave a code run line under their route', async () => {
    const logger = memoryLogger('info')
    const app = testApp({ real: ['runner'], logger })
    await post(app, '/api/validate-python/', { pythonCode: PY }, { 'x-request-id': 'slash-1' })
    expect(await logger.next((l) => l.msg === 'code run' && l.request_id === 'slash-1')).toMatchObject({
      route: '/api/validate-python',
      outcome: 'success',
    })
    const graded = await post(
      app,
      '/api/grade',
      { task: 'tic-tac-toe', backendCode: PY, save: false },
      { 'x-request-id': 'grade-1' },
    )
    expect(graded.status).toBe(200)
    expect(await logger.next((l) => l.msg === 'code run' && l.request_id === 'grade-1')).toMatchObject({
      route: '/api/grade',
      status: 200,
    })
  })

  test('to the metrics: a request to /health/ counts under its route', async () => {
    const app = testApp()
    await get(app, '/health/')
    const metrics = await get(app, '/metrics')
    expect(metrics.body).toContain('route="/health"')
  })
})

test('a DELETE without a body needs no Content-Type', async () => {
  const app = testApp()
  const reply = await app.handle(new Request('http://localhost/api/nothing-here', { method: 'DELETE' }))
  expect(reply.status).toBe(404)
  const withBody = await app.handle(
    new Request('http://localhost/api/nothing-here', {
      method: 'DELETE',
      body: 'x',
      headers: { 'content-length': '1' },
    }),
  )
  expect(withBody.status).toBe(415)
})

describe('a wide body that fails its schema', () => {
  const app = testApp()
  const wide = `[${Array(200_000).fill('1').join(',')}]`

  test('is answered 422 naming at most 20 fields, never the value', async () => {
    for (const body of [wide, `{"messages": ${wide}}`, `{"backendCode": "x", "testCases": ${wide}}`]) {
      const reply = await post(app, '/api/chat', body)
      expect(reply.status).toBe(422)
      expect(reply.body.details.errors.length).toBeLessThanOrEqual(20)
      expect(JSON.stringify(reply.body)).not.toContain('1,1,1')
    }
  })

  test('unknown fields are still no error (they are dropped, as before)', async () => {
    const reply = await post(app, '/api/stop-python-server', { port: 'x', extra: wide })
    expect(reply.body.details.errors).toEqual([{ path: '/port', message: expect.any(String) }])
  })
})
