/**
 * Request logs (src/logging.ts, src/metrics/audit.ts): every line written while a request is served carries its
 * request_id and client, whichever feature writes it; each request that runs learner code leaves one `code run`
 * audit line (client, route, outcome, runs, duration, code size), with the code only at LOG_LEVEL=debug; keys
 * never appear. Runs go through the real sandbox.
 */
import { describe, expect, test } from 'bun:test'
import { post, postEvents } from '../support/http'
import { testApp } from '../support/app'
import { memoryLogger } from '../support/services'
import { answer } from '../support/fake-sse'
import { connectWs } from '../support/ws'
import { ask, startChat } from '../chat/harness'
import { scriptedRegistry } from '../judge/scripted-provider'
import { PNG } from '../judge/images'

const KEY = 'ann-key-5b7e21'
const keyed = { authorization: `Bearer ${KEY}` }
const CODE = 'def add(a, b):\n    return a + b\n'

describe('at LOG_LEVEL=info', () => {
  const logger = memoryLogger('info')
  const app = testApp({
    real: ['runner'],
    config: { API_KEYS: `ann:${KEY}`, RATE_EXECUTION_PER_MIN: '3', EXEC_POOL_SIZE: '1' },
    logger,
  })
  const auditOf = (id: string) => logger.next((l) => l.msg === 'code run' && l.request_id === id)

  test('a validate-python run: one audit line with client, route, outcome, runs, duration and code size, not the code', async () => {
    const reply = await post(app, '/api/validate-python', { pythonCode: CODE }, { ...keyed, 'x-request-id': 'audit-1' })
    expect(reply.body.success).toBe(true)
    expect(reply.headers.get('x-request-id')).toBe('audit-1')
    const line = await auditOf('audit-1')
    expect(line).toMatchObject({
      level: 'info',
      client: 'ann',
      route: '/api/validate-python',
      status: 200,
      outcome: 'success',
      runs: 1,
      code_bytes: Buffer.byteLength(CODE),
    })
    expect(line.duration_ms).toBeNumber()
    expect(line.code).toBeUndefined()
    expect(await logger.next((l) => l.msg === 'request' && l.request_id === 'audit-1')).toMatchObject({
      client: 'ann',
      status: 200,
    })
  })

  test("the learner code's failure is the outcome; a refusal before any run is its error_type", async () => {
    await post(
      app,
      '/api/execute-endpoint',
      { pythonCode: '@endpoint\ndef boom():\n    raise ValueError("no")\n', endpoint: 'boom' },
      {
        ...keyed,
        'x-request-id': 'audit-2',
      },
    )
    expect(await auditOf('audit-2')).toMatchObject({ outcome: 'runtime_error', runs: 1, status: 200, client: 'ann' })
    await post(app, '/api/execute-endpoint', { pythonCode: '' }, { ...keyed, 'x-request-id': 'audit-3' })
    expect(await auditOf('audit-3')).toMatchObject({ outcome: 'validation_error', status: 400, runs: 0, code_bytes: 0 })
    const limited = await post(
      app,
      '/api/validate-python',
      { pythonCode: CODE },
      { ...keyed, 'x-request-id': 'audit-4' },
    )
    expect(limited.status).toBe(429)
    expect(await auditOf('audit-4')).toMatchObject({ outcome: 'rate_limited', status: 429, runs: 0, client: 'ann' })
  })

  test('a streamed test batch is audited once its run has ended', async () => {
    const other = testApp({ real: ['runner'], config: { EXEC_POOL_SIZE: '1' }, logger })
    const { text } = await postEvents(
      other,
      '/api/execute-test-cases',
      { backendCode: CODE, testCases: [{ name: 't', endpoint: 'add', input: { a: 1, b: 2 }, expected: 3 }] },
      { 'x-request-id': 'audit-5' },
    )
    expect(text).toContain('event: summary')
    expect(await auditOf('audit-5')).toMatchObject({
      route: '/api/execute-test-cases',
      outcome: 'success',
      runs: 1,
      client: 'local',
    })
  })

  test('the key never reaches the logs', () => {
    expect(JSON.stringify(logger.lines)).not.toContain(KEY)
  })
})

test('at LOG_LEVEL=debug the audit line holds the code', async () => {
  const logger = memoryLogger('debug')
  const app = testApp({ real: ['runner'], config: { LOG_LEVEL: 'debug' }, logger })
  await post(app, '/api/validate-python', { pythonCode: CODE }, { 'x-request-id': 'audit-debug' })
  expect(await logger.next((l) => l.msg === 'code run' && l.request_id === 'audit-debug')).toMatchObject({ code: CODE })
})

test("a feature's own line during a request carries the request's id and client (the judge's upstream warning)", async () => {
  const logger = memoryLogger('info')
  const { registry } = scriptedRegistry([{ error: 'overloaded', status: 400 }])
  const app = testApp({ config: { API_KEYS: `ann:${KEY}` }, providers: registry, logger })
  const reply = await post(
    app,
    '/api/llm-judge',
    { screenshot: PNG, testCase: { name: 'grid', description: 'a grid' } },
    keyed,
  )
  expect(reply.status).toBe(502)
  const warning = await logger.next((l) => l.msg === 'judge upstream failure')
  expect(warning).toMatchObject({ request_id: reply.headers.get('x-request-id'), client: 'ann', level: 'warn' })
})

test("a chat socket's lines carry the upgrade request's id and client", async () => {
  const logger = memoryLogger('info')
  const harness = startChat({ openai: [answer('Hello.')], config: { API_KEYS: `ann:${KEY}` }, logger })
  try {
    const ws = await connectWs(`${harness.wsUrl}?token=${KEY}`)
    ws.send({ messages: ask('Hi'), mode: 'chat' })
    expect((await ws.response()).at(-1).type).toBe('complete')
    const turn = await logger.next((l) => l.msg === 'chat turn')
    const upgrade = await logger.next((l) => l.msg === 'request' && l.path === '/ws/chat')
    expect(turn).toMatchObject({ client: 'ann', request_id: upgrade.request_id, outcome: 'complete' })
    await ws.close()
  } finally {
    await harness.stop()
  }
})

test('start-python-server is audited too, with the refusal as its outcome', async () => {
  const logger = memoryLogger('info')
  const app = testApp({ logger }) // its server manager refuses every start (test/support/app.ts)
  const reply = await post(
    app,
    '/api/start-python-server',
    { pythonCode: CODE, port: 5000 },
    { 'x-request-id': 'audit-server' },
  )
  expect(reply.status).toBe(503)
  expect(await logger.next((l) => l.msg === 'code run' && l.request_id === 'audit-server')).toMatchObject({
    route: '/api/start-python-server',
    outcome: 'not_in_this_test',
    runs: 0,
    code_bytes: Buffer.byteLength(CODE),
  })
})

test('over a real connection the request line names the peer address, read before the response went out', async () => {
  const logger = memoryLogger('info')
  const app = testApp({ logger }).listen({ hostname: '127.0.0.1', port: 0 })
  try {
    const response = await fetch(`http://127.0.0.1:${app.server!.port}/health`, {
      headers: { 'x-request-id': 'peer-1' },
    })
    expect(response.status).toBe(200)
    const line = await logger.next((l) => l.msg === 'request' && l.request_id === 'peer-1')
    expect(line.client).toBe('127.0.0.1') // it was 'local': Bun forgets the address once the response is out
  } finally {
    await app.stop(true)
  }
})
