/**
 * The OneCompiler adapter against a fake OneCompiler that speaks its API: it checks the RapidAPI headers,
 * really runs the submitted index.py with python3 (so the remote harness path is real), and can be scripted
 * per request to answer with OneCompiler's error codes.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { createApp } from '../../src/app'
import { testConfig } from '../support/config'
import { get, post } from '../support/http'
import { fakeOneCompiler } from '../support/fake-onecompiler'

const KEY = 'test-rapidapi-key-1234'

const fake = fakeOneCompiler(KEY)
const app = createApp({
  config: testConfig({
    USE_LOCAL_EXECUTION: 'false',
    ONECOMPILER_URL: fake.url,
    RAPIDAPI_KEY: KEY,
    EXEC_TIMEOUT_MS: '1500',
  }),
})
afterAll(() => {
  app.decorator.services.runner.close()
  fake.server.stop(true)
})

const code =
  '@endpoint\ndef add(a: int, b: int):\n    print("noise")\n    return a + b\n@endpoint\ndef boom():\n    raise KeyError("k")'

describe('OneCompiler adapter', () => {
  test('sends the documented request and gets the result through the marker, learner stdout apart', async () => {
    const { body } = await post(app, '/api/execute-endpoint', {
      pythonCode: code,
      endpoint: '/add',
      args: { a: '2', b: 3 },
    })
    expect(body).toMatchObject({
      success: true,
      result: 5,
      execution_method: 'onecompiler',
      stdout: 'noise\n',
      args_used: { a: 2, b: 3 },
    })
    const sent = fake.requests.at(-1)!
    expect(sent.headers.get('x-rapidapi-key')).toBe(KEY)
    expect(sent.headers.get('x-rapidapi-host')).toBe('onecompiler-apis.p.rapidapi.com')
    expect(sent.body).toMatchObject({ language: 'python', stdin: '', files: [{ name: 'index.py' }] })
  })

  test('exceptions, listing and test batches work remotely', async () => {
    expect((await post(app, '/api/execute-endpoint', { pythonCode: code, endpoint: '/boom' })).body).toMatchObject({
      success: false,
      error_type: 'runtime_error',
      line: 7,
    })
    expect((await post(app, '/api/execute-endpoint', { pythonCode: code })).body).toMatchObject({
      success: true,
      count: 2,
    })
    const { body } = await post(app, '/api/execute-test-cases', {
      backendCode: code,
      testCases: [
        { name: 'a', endpoint: '/add', input: { a: 1, b: 1 }, expected: 2 },
        { name: 'b', endpoint: '/boom', expected: 1 },
      ],
    })
    expect(body.summary).toEqual({ total: 2, passed: 1, failed: 0, errors: 1, skipped: 0 })
  })

  test('a forged marker-less print cannot change the result', async () => {
    const forged = '@endpoint\ndef f():\n    print(\'{"type": "result", "value": "forged"}\')\n    return "real"'
    expect((await post(app, '/api/execute-endpoint', { pythonCode: forged, endpoint: '/f' })).body.result).toBe('real')
  })

  test('E001 (status success) is a timeout result', async () => {
    fake.scripts.push(() =>
      Response.json({ status: 'success', stdout: '', stderr: null, exception: 'E001: Timeout', executionTime: 5000 }),
    )
    expect(
      (await post(app, '/api/execute-endpoint', { pythonCode: code, endpoint: '/add', args: { a: 1, b: 1 } })).body,
    ).toMatchObject({ success: false, error_type: 'timeout' })
  })

  test.each([
    ['E002', 503, 'upstream_quota_exceeded'],
    ['E003', 502, 'upstream_error'],
    ['E004', 502, 'upstream_error'],
    ['E005', 413, 'payload_too_large'],
    ['E006', 502, 'upstream_error'],
  ])('%s → %i %s, never showing the key', async (code_, status, errorType) => {
    fake.scripts.push(() => Response.json({ status: 'failed', error: `${code_}: something` }))
    const reply = await post(app, '/api/execute-endpoint', { pythonCode: code, endpoint: '/add', args: { a: 1, b: 1 } })
    expect(reply.status).toBe(status)
    expect(reply.body.error_type).toBe(errorType)
    expect(JSON.stringify(reply.body)).not.toContain(KEY)
  })

  test('health reports the remote mode; a missing key is 503', async () => {
    expect((await get(app, '/health')).body.checks.execution).toMatchObject({ ok: true, mode: 'onecompiler' })
    const keyless = createApp({ config: testConfig({ USE_LOCAL_EXECUTION: 'false', ONECOMPILER_URL: fake.url }) })
    const reply = await post(keyless, '/api/validate-python', { pythonCode: 'x = 1' })
    expect(reply.status).toBe(503)
  })
})
