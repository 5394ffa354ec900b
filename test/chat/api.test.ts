/** POST /api/chat through the real adapters against the fake servers. */
import { afterEach, describe, expect, test } from 'bun:test'
import { answer, Feed } from '../support/fake-sse'
import { post } from '../support/http'
import { ask, OPENAI_KEY, startChat, structured, type ChatHarness } from './harness'

let harness: ChatHarness | undefined
afterEach(async () => {
  await harness?.stop()
  harness = undefined
})

const usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 }

describe('POST /api/chat', () => {
  test('autocomplete (default): the explanation as response, the code, usage', async () => {
    harness = startChat({ openai: [answer(structured('print(2)', 'Prints two.'))] })
    const { status, body } = await post(harness.app, '/api/chat', { messages: ask('Print two') })
    expect({ status, body }).toEqual({
      status: 200,
      body: { response: 'Prints two.', generated_code: 'print(2)', usage, model: 'gpt-test', finish_reason: 'stop' },
    })
  })

  test('chat mode through Anthropic', async () => {
    harness = startChat({ anthropic: [answer('Hello there.')] })
    const { status, body } = await post(harness.app, '/api/chat', {
      messages: ask('Hi'),
      model: 'claude-test',
      mode: 'chat',
    })
    expect({ status, body }).toEqual({
      status: 200,
      body: { response: 'Hello there.', generated_code: '', usage, model: 'claude-test', finish_reason: 'end_turn' },
    })
  })

  test('proactive context is sent once', async () => {
    harness = startChat({ openai: [answer('Ok.')] })
    await post(harness.app, '/api/chat', {
      messages: ask('Why?'),
      mode: 'chat',
      proactive: true,
      current_code: 'x = 1',
    })
    expect(harness.openai.requests[0]!.body.messages.at(-1)).toEqual({
      role: 'user',
      content: 'Code:\nx = 1\n\nMessage:\nWhy?',
    })
  })

  test('current_code without proactive is not sent', async () => {
    harness = startChat({ openai: [answer('Ok.')] })
    await post(harness.app, '/api/chat', { messages: ask('Why?'), mode: 'chat', current_code: 'x = 1' })
    expect(harness.openai.requests[0]!.body.messages.at(-1)).toEqual({ role: 'user', content: 'Why?' })
  })

  test('an upstream failure is a 502 envelope without the key', async () => {
    harness = startChat({ openai: [{ status: 401, message: `Incorrect API key provided: ${OPENAI_KEY}` }] })
    const { status, body } = await post(harness.app, '/api/chat', { messages: ask('Hi') })
    expect(status).toBe(502)
    expect(body).toEqual({
      success: false,
      error: 'The model API answered 401: Incorrect API key provided: [redacted]',
      error_type: 'upstream_error',
      request_id: expect.any(String),
      details: { upstream_status: 401 },
    })
  })

  test('a stream cut mid-way is a 502, not a 200 with half an answer', async () => {
    harness = startChat({ openai: [new Feed().push('{"code":"x').cut()] })
    const { status, body } = await post(harness.app, '/api/chat', { messages: ask('Hi') })
    expect({ status, error_type: body.error_type }).toEqual({ status: 502, error_type: 'upstream_error' })
  })

  test('no provider configured for the model is a 503', async () => {
    harness = startChat({ config: { OPENAI_API_KEY: '', OPENAI_BASE_URL: '' } })
    const { status, body } = await post(harness.app, '/api/chat', { messages: ask('Hi') })
    expect({ status, error_type: body.error_type }).toEqual({ status: 503, error_type: 'provider_unavailable' })
  })

  test('a body without messages is a 422 validation error', async () => {
    harness = startChat()
    const { status, body } = await post(harness.app, '/api/chat', { messages: [{ role: 'robot', content: 'x' }] })
    expect({ status, error_type: body.error_type }).toEqual({ status: 422, error_type: 'validation_error' })
    expect(harness.openai.requests).toHaveLength(0)
  })
})
