/**
 * GET /metrics (src/metrics): Prometheus text from this app's own registry. Counters after real traffic (route
 * patterns, statuses, histogram buckets), runs of learner code by outcome through the real sandbox, rate-limit
 * refusals, and the admin key it needs once access keys are configured.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { get, post } from '../support/http'
import { testApp } from '../support/app'
import { keysFile } from '../support/keys'
import { answer } from '../support/fake-sse'
import { ask, startChat } from '../chat/harness'
import { startFakeOpenAI } from '../support/fake-openai'
import { connectWs } from '../support/ws'
import { testConfig } from '../support/config'
import { PNG } from '../judge/images'
import { createSandbox, type Sandbox } from '../../src/sandbox'
import { createLogger } from '../../src/logging'
import { closeServices } from '../../src/app'

const scrape = async (app: Parameters<typeof get>[0], headers: Record<string, string> = {}) => {
  const reply = await get<string>(app, '/metrics', headers)
  expect(reply.status).toBe(200)
  expect(reply.headers.get('content-type')).toStartWith('text/plain; version=0.0.4')
  return reply.body
}

/** The value of one sample line, e.g. `tutor_http_requests_total{method="GET",route="/health",status="200"}`. */
const sample = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('open server', () => {
  const app = testApp()

  test('HTTP requests by route pattern and status, with duration buckets; a raw path never becomes a label', async () => {
    await get(app, '/health')
    await get(app, '/health')
    await get(app, '/tasks/no-such-task') // a pattern with a parameter, 404
    await get(app, '/no/such/path/42')
    const text = await scrape(app)
    expect(sample(text, 'tutor_http_requests_total{method="GET",route="/health",status="200"}')).toBe(2)
    expect(text).toMatch(/tutor_http_requests_total\{method="GET",route="\/tasks\/:task_name",status="404"\} 1/)
    expect(sample(text, 'tutor_http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1)
    expect(text).not.toContain('/no/such/path')
    expect(sample(text, 'tutor_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/health"}')).toBe(2)
    expect(text).toContain('# TYPE tutor_http_request_duration_seconds histogram')
    expect(text).toContain('tutor_process_resident_memory_bytes')
  })

  test('two apps in one process do not share counters', async () => {
    const other = testApp()
    await get(other, '/health')
    const mine = await scrape(app)
    const theirs = await scrape(other)
    expect(sample(theirs, 'tutor_http_requests_total{method="GET",route="/health",status="200"}')).toBe(1)
    expect(sample(mine, 'tutor_http_requests_total{method="GET",route="/health",status="200"}')).toBe(2)
  })
})

test('runs of learner code by outcome, through the real sandbox; queue gauges from the runner', async () => {
  const app = testApp({ real: ['runner'], config: { EXEC_POOL_SIZE: '1' } })
  expect((await post(app, '/api/validate-python', { pythonCode: 'x = 1\n' })).body.success).toBe(true)
  expect((await post(app, '/api/validate-python', { pythonCode: 'def (:\n' })).body.error_type).toBe('syntax_error')
  const text = await scrape(app)
  expect(sample(text, 'tutor_executions_total{op="validate",outcome="success"}')).toBe(1)
  expect(sample(text, 'tutor_executions_total{op="validate",outcome="syntax_error"}')).toBe(1)
  expect(sample(text, 'tutor_execution_duration_seconds_count{op="validate"}')).toBe(2)
  expect(sample(text, 'tutor_execution_running')).toBe(0)
  expect(sample(text, 'tutor_execution_waiting')).toBe(0)
  expect(sample(text, 'tutor_execution_pool_size')).toBeGreaterThanOrEqual(0)
})

test('rate-limit refusals by route class', async () => {
  const app = testApp({ config: { RATE_JUDGE_PER_MIN: '1' } })
  await post(app, '/api/llm-judge', {})
  expect((await post(app, '/api/llm-judge', {})).status).toBe(429)
  expect((await post(app, '/api/llm-judge', {})).status).toBe(429)
  const text = await scrape(app)
  expect(sample(text, 'tutor_rate_limited_total{route_class="judge"}')).toBe(2)
  expect(sample(text, 'tutor_http_requests_total{method="POST",route="/api/llm-judge",status="429"}')).toBe(2)
})

test('open chat WebSockets, over a real socket', async () => {
  const harness = startChat({ openai: [answer('Hello.')] })
  try {
    const ws = await harness.connect()
    ws.send({ messages: ask('Hi'), mode: 'chat' })
    expect((await ws.response()).at(-1).type).toBe('complete') // the server has opened it by now
    expect(sample(await scrape(harness.app), 'tutor_websockets_active')).toBe(1)
    await ws.close()
  } finally {
    await harness.stop()
  }
})

describe('with access keys', () => {
  const file = keysFile([
    { name: 'teacher', key: 'teacher-key-9c1', role: 'admin' },
    { name: 'ann', key: 'ann-key-4d2' },
  ])
  const app = testApp({ config: { API_KEYS_FILE: file } })

  test('401 without a key, 403 forbidden for a learner key, 200 with an admin key', async () => {
    const none = await get(app, '/metrics')
    expect(none.status).toBe(401)
    expect(none.body.error_type).toBe('unauthorized')
    const learner = await get(app, '/metrics', { authorization: 'Bearer ann-key-4d2' })
    expect(learner.status).toBe(403)
    expect(learner.body.error_type).toBe('forbidden')
    const text = await scrape(app, { authorization: 'Bearer teacher-key-9c1' })
    expect(sample(text, 'tutor_http_requests_total{method="GET",route="/metrics",status="401"}')).toBe(1)
    expect(sample(text, 'tutor_http_requests_total{method="GET",route="/metrics",status="403"}')).toBe(1)
  })
})

describe('after real traffic: a sandbox run, chats through a fake OpenAI server, a judge call and refusals', () => {
  const file = keysFile([
    { name: 'teacher', key: 'teacher-key-77a', role: 'admin' },
    { name: 'ann', key: 'ann-key-19c' },
  ])
  const ann = { authorization: 'Bearer ann-key-19c' }
  const PASS = '{"judgment":"pass","explanation":"The grid is there."}'
  const openai = startFakeOpenAI([answer('Hello.'), { status: 429, message: 'Rate limit reached' }, answer(PASS)])
  afterAll(() => openai.stop())
  const app = testApp({
    real: ['runner'],
    config: {
      API_KEYS_FILE: file,
      OPENAI_BASE_URL: openai.url,
      OPENAI_API_KEY: 'sk-test-metrics-0123',
      DEFAULT_MODEL: 'gpt-test',
      JUDGE_MODEL: 'vision-test',
      RATE_JUDGE_PER_MIN: '1',
      EXEC_POOL_SIZE: '1',
    },
  }).listen({ hostname: '127.0.0.1', port: 0 })
  afterAll(() => app.stop(true))

  test('each kind of traffic shows in its own series', async () => {
    const call = await post(
      app,
      '/api/execute-endpoint',
      { pythonCode: '@endpoint\ndef add(a, b):\n    return a + b\n', endpoint: 'add', args: { a: 1, b: 2 } },
      ann,
    )
    expect(call.body).toMatchObject({ success: true, result: 3 })

    const ws = await connectWs(`ws://127.0.0.1:${app.server!.port}/ws/chat?token=ann-key-19c`)
    ws.send({ messages: ask('Hi'), mode: 'chat' })
    expect((await ws.response()).at(-1)).toMatchObject({ type: 'complete', content: 'Hello.' })
    const failed = await post(app, '/api/chat', { messages: ask('Hi'), mode: 'chat' }, ann)
    expect(failed).toMatchObject({ status: 502, body: { error_type: 'upstream_error' } })

    const judged = await post(
      app,
      '/api/llm-judge',
      { screenshot: PNG, testCase: { name: 'grid', description: 'a 3 by 3 grid' } },
      ann,
    )
    expect(judged.body.judgment).toBe('pass')
    expect((await post(app, '/api/llm-judge', {}, ann)).status).toBe(429)
    expect((await get(app, '/tasks')).status).toBe(401)
    expect((await get(app, '/tasks', { authorization: 'Bearer nope' })).status).toBe(401)

    const text = await scrape(app, { authorization: 'Bearer teacher-key-77a' })
    expect(sample(text, 'tutor_executions_total{op="call",outcome="success"}')).toBe(1)
    expect(sample(text, 'tutor_execution_queue_wait_seconds_count')).toBe(1)
    expect(sample(text, 'tutor_model_streams_active{feature="chat"}')).toBe(0) // both chats have ended
    expect(sample(text, 'tutor_websockets_active')).toBe(1)
    expect(sample(text, 'tutor_upstream_errors_total{feature="chat",provider="openai",kind="rate_limited"}')).toBe(1)
    expect(sample(text, 'tutor_judge_calls_total{outcome="pass"}')).toBe(1)
    expect(sample(text, 'tutor_rate_limited_total{route_class="judge"}')).toBe(1)
    expect(sample(text, 'tutor_auth_refused_total{reason="missing"}')).toBe(1)
    expect(sample(text, 'tutor_auth_refused_total{reason="invalid"}')).toBe(1)
    expect(sample(text, 'tutor_http_requests_total{method="POST",route="/api/chat",status="502"}')).toBe(1)
    expect(sample(text, 'tutor_http_requests_total{method="GET",route="/tasks",status="401"}')).toBe(2)
    // Keys never appear; the client's name only where the issue asks for it (AI tokens by model and client).
    for (const secret of ['teacher-key-77a', 'ann-key-19c']) expect(text).not.toContain(secret)
    const withClient = text.split('\n').filter((line) => line.includes('"ann"'))
    expect(withClient.length).toBeGreaterThan(0)
    for (const line of withClient) expect(line).toStartWith('tutor_ai_tokens_total{')
    await ws.close()
  })
})

test('a sandbox that cannot be started is counted, and the request fails without a run', async () => {
  const config = testConfig({ EXEC_POOL_SIZE: '0' })
  const real = createSandbox({ config, logger: createLogger('silent') })
  const fail = () => {
    throw Object.assign(new Error('posix_spawn: Resource temporarily unavailable'), { code: 'EAGAIN' })
  }
  // Neither way starts: the warm box fails, then its fallback through bubblewrap.
  const exhausted: Sandbox = { ...real, spawn: fail, warm: () => ({ spawn: async () => fail(), close() {} }) }
  const app = testApp({ real: ['runner'], sandbox: exhausted })
  try {
    const reply = await post(app, '/api/validate-python', { pythonCode: 'x = 1\n' })
    expect(reply.status).toBeGreaterThanOrEqual(500)
    const text = await scrape(app)
    expect(sample(text, 'tutor_sandbox_start_failures_total{reason="spawn"}')).toBe(1)
    expect(sample(text, 'tutor_sandbox_start_failures_total{reason="zygote"}')).toBe(1)
  } finally {
    await closeServices(app.decorator.services)
  }
})
