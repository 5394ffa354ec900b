/**
 * Requests per minute (src/access/rate-limit.ts): per client and route class, 429 `rate_limited` with
 * Retry-After and the RateLimit fields beyond the limit, other clients and classes untouched, 0 turns a class
 * off. The client is read from a test header through an injected `identify`; the runner is inert, so requests
 * the limit lets through end in a 503 from the runner: the limit counts before any handler runs.
 */
import { describe, expect, test } from 'bun:test'
import type { Identify } from '../../src/http/client'
import { createRateLimiter, routeClass } from '../../src/access/rate-limit'
import { createMemoryStore } from '../../src/access/store'
import { get, post } from '../support/http'
import { testApp } from '../support/app'

const identify: Identify = (request) => request.headers.get('x-test-client') ?? 'nobody'
const as = (client: string) => ({ 'x-test-client': client })
const code = { pythonCode: 'def f():\n    return 1\n' }

describe('over the limit', () => {
  const app = testApp({ identify, config: { RATE_EXECUTION_PER_MIN: '3', RATE_CHAT_PER_MIN: '2' } })

  test("client A's 4th execution request in a minute is 429 with the headers; client B still passes", async () => {
    const passed = [
      await post(app, '/api/execute-endpoint', { ...code, endpoint: '/f' }, as('A')),
      await post(app, '/api/validate-python', code, as('A')),
      await post(app, '/api/execute-test-cases', { backendCode: code.pythonCode, testCases: [] }, as('A')),
    ]
    for (const [index, reply] of passed.entries()) {
      expect(reply.status).not.toBe(429)
      expect(reply.headers.get('ratelimit-policy')).toBe('3;w=60')
      expect(reply.headers.get('ratelimit')).toMatch(new RegExp(`^limit=3, remaining=${2 - index}, reset=\\d+$`))
    }

    const refused = await post(app, '/api/execute-endpoint', { ...code, endpoint: '/f' }, as('A'))
    expect(refused.status).toBe(429)
    expect(refused.body).toMatchObject({
      success: false,
      error_type: 'rate_limited',
      details: { route_class: 'execution', limit: 3 },
    })
    const retryAfter = Number(refused.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(60)
    expect(refused.headers.get('ratelimit-policy')).toBe('3;w=60')
    expect(refused.headers.get('ratelimit')).toBe(`limit=3, remaining=0, reset=${retryAfter}`)

    const other = await post(app, '/api/validate-python', code, as('B'))
    expect(other.status).not.toBe(429)
    expect(other.headers.get('ratelimit')).toStartWith('limit=3, remaining=2,')
  })

  test('other classes and unlimited routes are unaffected by an exhausted execution limit', async () => {
    for (let i = 0; i < 3; i++) await post(app, '/api/validate-python', code, as('E'))
    expect((await post(app, '/api/validate-python', code, as('E'))).status).toBe(429)
    const chat = await post(app, '/api/chat', { messages: [{ role: 'user', content: 'Hi' }], mode: 'chat' }, as('E'))
    expect(chat.status).not.toBe(429)
    expect(chat.headers.get('ratelimit')).toStartWith('limit=2, remaining=1,')
    const list = await get(app, '/api/list-python-servers', as('E'))
    expect(list.status).toBe(200)
    expect(list.headers.get('ratelimit')).toBeNull()
  })

  test('each /ws/chat upgrade counts against the chat limit and is refused before it opens', async () => {
    const upgrade = () =>
      app.handle(
        new Request('http://localhost/ws/chat', {
          headers: {
            ...as('C'),
            connection: 'Upgrade',
            upgrade: 'websocket',
            'sec-websocket-version': '13',
            'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          },
        }),
      )
    await post(app, '/api/chat', { messages: [{ role: 'user', content: 'Hi' }], mode: 'chat' }, as('C'))
    await upgrade()
    const refused = await upgrade()
    expect(refused.status).toBe(429)
    expect(refused.headers.get('ratelimit-policy')).toBe('2;w=60')
  })

  test('browsers may read the RateLimit fields (CORS)', async () => {
    const reply = await post(app, '/api/validate-python', code, { ...as('D'), origin: 'http://localhost:3000' })
    expect(reply.headers.get('access-control-expose-headers')).toContain('ratelimit, ratelimit-policy')
  })
})

test('0 turns a class off: no refusal and no RateLimit fields', async () => {
  const app = testApp({ identify, config: { RATE_EXECUTION_PER_MIN: '0' } })
  for (let i = 0; i < 5; i++) {
    const reply = await post(app, '/api/validate-python', code, as('A'))
    expect(reply.status).not.toBe(429)
    expect(reply.headers.get('ratelimit')).toBeNull()
  }
})

describe('the window', () => {
  test('refuses the third request until the minute is over, saying how long to wait', async () => {
    let now = 1_000
    const limiter = createRateLimiter(createMemoryStore({ now: () => now }))
    expect(await limiter.take('A', 'execution', 2)).toEqual({ allowed: true, limit: 2, remaining: 1, resetS: 60 })
    now += 20_500
    expect(await limiter.take('A', 'execution', 2)).toEqual({ allowed: true, limit: 2, remaining: 0, resetS: 40 })
    now += 39_000
    expect(await limiter.take('A', 'execution', 2)).toEqual({ allowed: false, limit: 2, remaining: 0, resetS: 1 })
    now += 500 // the window that began at 1 000 ends now
    expect(await limiter.take('A', 'execution', 2)).toEqual({ allowed: true, limit: 2, remaining: 1, resetS: 60 })
    expect(await limiter.take('A', 'servers', 0)).toBeUndefined()
  })

  test('expired counters are swept and live ones are capped', async () => {
    let now = 0
    const store = createMemoryStore({ maxKeys: 3, now: () => now })
    const limiter = createRateLimiter(store)
    for (const client of ['a', 'b', 'c', 'd', 'e']) await limiter.take(client, 'chat', 1)
    expect(store.size()).toBe(3)
    // The oldest windows were dropped: their clients start again, the newest are still counted.
    expect((await limiter.take('e', 'chat', 1))?.allowed).toBe(false)
    expect((await limiter.take('a', 'chat', 1))?.allowed).toBe(true)
    now += 60_000
    await limiter.take('z', 'judge', 1)
    expect(store.size()).toBe(1)
  })
})

test('route classes come from the method and path', () => {
  expect(routeClass('POST', '/api/execute-test-cases')).toBe('execution')
  expect(routeClass('GET', '/ws/chat')).toBe('chat')
  expect(routeClass('POST', '/api/llm-judge')).toBe('judge')
  expect(routeClass('POST', '/api/start-python-server')).toBe('servers')
  expect(routeClass('POST', '/api/stop-python-server')).toBeUndefined()
  expect(routeClass('OPTIONS', '/api/chat')).toBeUndefined()
})

test('the OpenAPI document declares 429 on the limited routes only', async () => {
  const app = testApp()
  const { body } = await get(app, '/openapi/json')
  expect(body.paths['/api/execute-endpoint'].post.responses['429']).toBeDefined()
  expect(body.paths['/api/chat'].post.responses['429']).toBeDefined()
  expect(body.paths['/tasks'].get.responses['429']).toBeUndefined()
})
