/**
 * Limits shared through a real redis-server (src/access/limit-store.ts): two app instances spend one token
 * budget, one per-minute allowance and one set of concurrent places; when Redis dies, stops answering or is not
 * there at start, each instance keeps serving with its own memory counters, says so once in the log and in
 * /health (`checks.limits`), and goes back to Redis as soon as it answers again.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { get, post } from '../support/http'
import { testApp } from '../support/app'
import { answer } from '../support/fake-sse'
import { startFakeOpenAI } from '../support/fake-openai'
import { NO_REDIS, REDIS_SERVER, startRedis, type TestRedis } from '../support/redis'
import { createRedisStore, type RedisCommands } from '../../src/access/redis-store'
import { memoryLogger } from '../support/services'
import { gateRunner, instantRunner } from './gate-runner'

const API_KEYS = 'alice:alice-key-0001,bob:bob-key-0002'
const alice = { authorization: 'Bearer alice-key-0001' }
const validate = { pythonCode: 'def f():\n    return 1\n' }
const limitsCheck = async (app: { handle(r: Request): Promise<Response> }) =>
  (await get(app, '/health', alice)).body.checks.limits

if (!REDIS_SERVER) console.warn(`skipping the Redis tests: ${NO_REDIS}`)
const describeRedis = REDIS_SERVER ? describe : describe.skip

describeRedis('two instances, one Redis', () => {
  let redis: TestRedis
  beforeAll(async () => {
    redis = (await startRedis())!
  })
  afterAll(() => redis?.stop())
  beforeEach(() => redis.send('FLUSHALL', []))

  test('share the token budget, the per-minute allowance and the concurrent places', async () => {
    const upstream = startFakeOpenAI(() => answer('Hi.', { usage: { prompt: 11, completion: 7 } }))
    const config = {
      API_KEYS,
      REDIS_URL: redis.url,
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: upstream.url,
      DEFAULT_MODEL: 'gpt-test',
      // Generous: this test is about sharing; on a loaded machine a 500 ms deadline could send one call to memory.
      REDIS_TIMEOUT_MS: '5000',
      AI_TOKENS_PER_DAY: '30',
      RATE_EXECUTION_PER_MIN: '3',
      CONCURRENT_EXECUTIONS_PER_CLIENT: '1',
    }
    const [gateA, gateB] = [gateRunner(), gateRunner()]
    const a = testApp({ config, runner: gateA.runner })
    const b = testApp({ config, runner: gateB.runner })
    try {
      expect(await limitsCheck(a)).toEqual({ ok: true, store: 'redis' })
      expect(await limitsCheck(b)).toEqual({ ok: true, store: 'redis' })

      const chat = { messages: [{ role: 'user', content: 'Hi' }], mode: 'chat' }
      expect((await post(a, '/api/chat', chat, alice)).status).toBe(200) // 18 of 30
      expect((await post(b, '/api/chat', chat, alice)).status).toBe(200) // 36
      const refused = await post(a, '/api/chat', chat, alice)
      expect(refused.status).toBe(429)
      expect(refused.body.error).toContain('36 of 30 tokens')
      expect((await post(b, '/api/chat', chat, alice)).status).toBe(429)
      expect(upstream.requests).toHaveLength(2)
      const day = new Date().toISOString().slice(0, 10)
      expect(await redis.send('GET', [`tutor:tokens:${day}:alice`])).toBe('36')

      // A run in flight on A takes alice's one place on B too.
      const held = post(a, '/api/validate-python', validate, alice) // request 1 of 3 this minute
      const run = await gateA.started()
      const busy = await post(b, '/api/validate-python', validate, alice) // 2
      expect(busy.status).toBe(429)
      expect(busy.body.details.quota).toBe('concurrent_executions')
      run.finish()
      expect((await held).status).toBe(200)
      const onB = post(b, '/api/validate-python', validate, alice) // 3
      ;(await gateB.started()).finish()
      expect((await onB).headers.get('ratelimit')).toStartWith('limit=3, remaining=0,')
      const limited = await post(a, '/api/validate-python', validate, alice) // 4: over the shared minute
      expect(limited.status).toBe(429)
      expect(limited.body.error_type).toBe('rate_limited')
    } finally {
      upstream.stop()
    }
  }, 30_000)
})

describeRedis('concurrent places in Redis', () => {
  test('a place of a replica that died without releasing it frees when its lease ends', async () => {
    const redis = (await startRedis())!
    const client: RedisCommands = { send: (command, args) => redis.send(command, args) }
    const [dying, living] = [createRedisStore(() => client), createRedisStore(() => client, { leaseMs: 60_000 })]
    const key = 'tutor:concurrent:executions:zed'
    try {
      expect(await dying.acquire('concurrent:executions:zed', 1)).toBeFunction()
      expect(await living.acquire('concurrent:executions:zed', 1)).toBeUndefined()
      dying.close() // dies without releasing: its place is held until its lease ends, at most 60 s from now
      const [holder, score] = ((await redis.send('ZRANGE', [key, '0', '-1', 'WITHSCORES'])) as unknown[]).flat() as [
        string,
        string,
      ]
      const [seconds, micros] = (await redis.send('TIME', [])) as [string, string]
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) // Redis's clock, as the scripts read it
      expect(Number(score) - now).toBeLessThanOrEqual(60_000)
      expect(Number(await redis.send('PTTL', [key]))).toBeLessThanOrEqual(60_000)
      await redis.send('ZADD', [key, String(now - 1), holder]) // as if its lease had ended
      const release = await living.acquire('concurrent:executions:zed', 1)
      expect(release).toBeFunction()
      release!()
      expect(await redis.send('ZCARD', [key])).toBe(0)
    } finally {
      living.close()
      await redis.stop()
    }
  })
})

describeRedis('Redis failing at run time', () => {
  test('killed mid-run: keeps serving with per-instance limits, degraded health, one log line; back when Redis is', async () => {
    const redis = (await startRedis())!
    const logger = memoryLogger()
    const app = testApp({
      logger,
      runner: instantRunner(),
      // A dead Redis refuses connections at once: no deadline is involved, and a generous one avoids false alarms.
      config: { API_KEYS, REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '5000', RATE_EXECUTION_PER_MIN: '2' },
    })
    try {
      expect(await limitsCheck(app)).toEqual({ ok: true, store: 'redis' })
      const first = await post(app, '/api/validate-python', validate, alice)
      expect(first.status).toBe(200)
      expect(await redis.send('GET', ['tutor:rate:execution:alice'])).toBe('1')

      await redis.kill()
      const during = []
      for (let i = 0; i < 3; i++) during.push(await post(app, '/api/validate-python', validate, alice))
      // Served, and still limited: the memory counters of this instance start a window of their own.
      expect(during.map((reply) => reply.status)).toEqual([200, 200, 429])
      expect(during[0]!.body).toEqual({ success: true, message: 'Python syntax is valid' })
      const health = await get(app, '/health', alice)
      expect(health.body.status).toBe('degraded')
      expect(health.body.message).toContain('limits')
      const host = new URL(redis.url).host
      expect(health.body.checks.limits).toEqual({
        ok: false,
        store: 'redis',
        host,
        counting: 'memory',
        error: expect.stringContaining(`Redis at ${host}: `),
      })
      await get(app, '/health', alice)
      const warnings = logger.lines.filter((line) => String(line.msg).startsWith('limits store unreachable'))
      expect(warnings).toHaveLength(1)
      expect(JSON.stringify(logger.lines)).not.toContain(redis.url)

      await redis.restart() // empty, on the same port
      expect(await limitsCheck(app)).toEqual({ ok: true, store: 'redis' })
      const after = await post(app, '/api/validate-python', validate, alice)
      expect(after.headers.get('ratelimit')).toStartWith('limit=2, remaining=1,')
      expect(await redis.send('GET', ['tutor:rate:execution:alice'])).toBe('1')
      expect(
        logger.lines.filter((line) => line.msg === 'limits store connected: limits are shared through Redis'),
      ).toHaveLength(2)
    } finally {
      await redis.stop()
    }
  }, 30_000)

  test('a Redis that stops answering holds no request up: each command has REDIS_TIMEOUT_MS', async () => {
    const redis = (await startRedis())!
    const app = testApp({
      runner: instantRunner(),
      config: { API_KEYS, REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '1500' },
    })
    try {
      const host = new URL(redis.url).host
      expect(await limitsCheck(app)).toEqual({ ok: true, store: 'redis' })
      redis.pause()
      expect((await post(app, '/api/validate-python', validate, alice)).status).toBe(200)
      expect(await limitsCheck(app)).toEqual({
        ok: false,
        store: 'redis',
        host,
        counting: 'memory',
        error: `Redis at ${host}: no answer within 1500 ms`,
      })
      redis.resume()
      expect(await limitsCheck(app)).toEqual({ ok: true, store: 'redis' })
    } finally {
      redis.resume()
      await redis.stop()
    }
  }, 30_000)
})

test('a Redis unreachable at start: the server starts, serves with per-instance limits and says so', async () => {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = probe.port
  probe.stop(true) // nothing listens there now
  const app = testApp({
    runner: instantRunner(),
    config: { API_KEYS, REDIS_URL: `redis://127.0.0.1:${port}`, RATE_EXECUTION_PER_MIN: '1' },
  })
  expect((await post(app, '/api/validate-python', validate, alice)).status).toBe(200)
  expect((await post(app, '/api/validate-python', validate, alice)).status).toBe(429)
  // Named: the store (Redis) and its host, never a password; Bun's own words ("Connection closed") alone said neither.
  expect(await limitsCheck(app)).toEqual({
    ok: false,
    store: 'redis',
    host: `127.0.0.1:${port}`,
    counting: 'memory',
    error: expect.stringContaining(`Redis at 127.0.0.1:${port}: `),
  })
})

test('a Redis URL with a password: /health names the host, never the password', async () => {
  const app = testApp({
    runner: instantRunner(),
    config: { API_KEYS, REDIS_URL: 'redis://user:s3cret-pass@127.0.0.1:1' },
  })
  const check = await limitsCheck(app)
  expect(check).toMatchObject({ ok: false, store: 'redis', host: '127.0.0.1:1' })
  expect(JSON.stringify(check)).not.toContain('s3cret-pass')
})

test('without REDIS_URL the limits live in memory, and health says so', async () => {
  const app = testApp({ config: { API_KEYS } })
  expect(await limitsCheck(app)).toEqual({ ok: true, store: 'memory' })
})
