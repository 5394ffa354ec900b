/**
 * Concurrent places per client (src/access/quotas.ts): executions in flight (429 quota_exceeded with Retry-After
 * and the RateLimit fields beyond CONCURRENT_EXECUTIONS_PER_CLIENT) and open chat sockets (an `error` frame and
 * close 4429 beyond CONCURRENT_SOCKETS_PER_CLIENT). A place comes back on every path: answer, error, client abort,
 * a streamed batch's end, the sandbox's own timeout. Clients are access keys; runs are held by a gate runner,
 * except for the timeout, which runs in the real sandbox.
 */
import { describe, expect, test } from 'bun:test'
import { get, post } from '../support/http'
import { testApp } from '../support/app'
import { answer } from '../support/fake-sse'
import { connectWs } from '../support/ws'
import { ask, startChat } from '../chat/harness'
import { gateRunner } from './gate-runner'

const API_KEYS = 'alice:alice-key-0001,bob:bob-key-0002'
const as = (name: 'alice' | 'bob') => ({ authorization: `Bearer ${name}-key-000${name === 'alice' ? 1 : 2}` })
const code = 'def f():\n    return 1\n'
const validate = (headers: Record<string, string>, signal?: AbortSignal) =>
  new Request('http://localhost/api/validate-python', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ pythonCode: code }),
    signal,
  })

describe('concurrent executions', () => {
  test('the third run in flight is 429 with its headers; another client still runs; each way out frees a place', async () => {
    const gate = gateRunner()
    const app = testApp({ runner: gate.runner, config: { API_KEYS, CONCURRENT_EXECUTIONS_PER_CLIENT: '2' } })
    const aborted = new AbortController()
    const first = app.handle(validate(as('alice'), aborted.signal))
    const second = post(app, '/api/execute-endpoint', { pythonCode: code, endpoint: '/f' }, as('alice'))
    const [run1, run2] = [await gate.started(), await gate.started()]

    const refused = await post(app, '/api/execute-test-cases', { backendCode: code, testCases: [] }, as('alice'))
    expect(refused.status).toBe(429)
    expect(refused.body).toMatchObject({
      success: false,
      error_type: 'quota_exceeded',
      details: { quota: 'concurrent_executions', limit: 2, retry_after_s: 1 },
    })
    expect(refused.headers.get('retry-after')).toBe('1')
    expect(refused.headers.get('ratelimit-policy')).toBe('2;w=1')
    expect(refused.headers.get('ratelimit')).toBe('limit=2, remaining=0, reset=1')
    expect(gate.runs).toHaveLength(2) // refused before anything ran

    const bob = app.handle(validate(as('bob')))
    const bobRun = await gate.started()
    bobRun.finish()
    expect((await bob).status).toBe(200)

    // The client leaves: its run is cancelled and its place is free again.
    aborted.abort()
    await first
    await run1.ended
    const third = app.handle(validate(as('alice')))
    const run3 = await gate.started()
    // The sandbox fails: the place comes back too.
    run2.fail(new Error('sandbox crashed'))
    expect((await second).status).toBe(500)
    const fourth = app.handle(validate(as('alice')))
    const run4 = await gate.started()
    run3.finish()
    run4.finish()
    expect((await third).status).toBe(200)
    expect((await fourth).status).toBe(200)
    // Both places are free: two more run at once.
    const again = [app.handle(validate(as('alice'))), app.handle(validate(as('alice')))]
    for (const run of [await gate.started(), await gate.started()]) run.finish()
    expect((await Promise.all(again)).map((r) => r.status)).toEqual([200, 200])
  })

  test('a streamed batch holds its place until the batch ends, not until its headers are sent', async () => {
    const gate = gateRunner()
    const app = testApp({ runner: gate.runner, config: { API_KEYS, CONCURRENT_EXECUTIONS_PER_CLIENT: '1' } })
    const batch = { backendCode: code, testCases: [{ name: 't', endpoint: '/f', input: {}, expected: 1 }] }
    const streaming = await app.handle(
      new Request('http://localhost/api/execute-test-cases', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...as('alice') },
        body: JSON.stringify(batch),
      }),
    )
    expect(streaming.status).toBe(200)
    const run = await gate.started()
    expect((await post(app, '/api/validate-python', { pythonCode: code }, as('alice'))).status).toBe(429)
    run.fail(new Error('batch over'))
    await streaming.text() // the stream ends with the batch
    const after = app.handle(validate(as('alice')))
    ;(await gate.started()).finish()
    expect((await after).status).toBe(200)
  })

  test('0 turns the quota off', async () => {
    const gate = gateRunner()
    const app = testApp({ runner: gate.runner, config: { API_KEYS, CONCURRENT_EXECUTIONS_PER_CLIENT: '0' } })
    const many = Array.from({ length: 12 }, () => app.handle(validate(as('alice'))))
    for (let i = 0; i < 12; i++) (await gate.started()).finish()
    expect(new Set((await Promise.all(many)).map((r) => r.status))).toEqual(new Set([200]))
  })

  test('a run the sandbox stops at its time limit gives its place back (real sandbox)', async () => {
    const app = testApp({
      real: ['runner'],
      config: { API_KEYS, CONCURRENT_EXECUTIONS_PER_CLIENT: '1', EXEC_TIMEOUT_MS: '300' },
    })
    const loop = { pythonCode: '@endpoint\ndef spin():\n    while True:\n        pass\n', endpoint: '/spin' }
    const first = await post(app, '/api/execute-endpoint', loop, as('alice'))
    expect(first.body).toMatchObject({ success: false, error_type: 'timeout' })
    const second = await post(
      app,
      '/api/execute-endpoint',
      { pythonCode: `@endpoint\n${code}`, endpoint: '/f' },
      as('alice'),
    )
    expect(second.status).toBe(200)
    expect(second.body).toMatchObject({ success: true, result: 1 })
  })
})

describe('concurrent chat sockets', () => {
  test('a socket beyond the quota gets an error frame and close 4429; closing one frees its place', async () => {
    const harness = startChat({
      openai: [answer('One.'), answer('Two.')],
      config: { API_KEYS, CONCURRENT_SOCKETS_PER_CLIENT: '1' },
    })
    try {
      const url = (key: string) => `${harness.wsUrl}?token=${key}`
      const first = await connectWs(url('alice-key-0001'))
      first.send({ messages: ask('Hi'), mode: 'chat' })
      expect((await first.response()).at(-1)).toMatchObject({ type: 'complete', content: 'One.' })

      const second = await connectWs(url('alice-key-0001'))
      expect(await second.next()).toEqual({
        type: 'error',
        error_type: 'quota_exceeded',
        content: expect.stringContaining('at most 1'),
      })
      expect(await second.closed).toBe(4429)

      const bob = await connectWs(url('bob-key-0002')) // another client is not affected
      bob.send({ messages: ask('Hi'), mode: 'chat' })
      expect((await bob.response()).at(-1)).toMatchObject({ type: 'complete', content: 'Two.' })
      await bob.close()

      await first.close()
      const third = await connectWs(url('alice-key-0001'))
      third.send('not json') // an admitted socket answers it; a refused one would say quota_exceeded
      expect(await third.next()).toMatchObject({ type: 'error', error_type: 'bad_frame' })
      await third.close()
    } finally {
      await harness.stop()
    }
  })
})

test('the OpenAPI document declares 429 on the execution routes', async () => {
  const app = testApp()
  const { body } = await get(app, '/openapi/json')
  expect(body.paths['/api/validate-python'].post.responses['429']).toBeDefined()
  expect(body.paths['/api/llm-judge'].post.responses['429']).toBeDefined()
})
