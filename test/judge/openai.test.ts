/**
 * The judge through the real provider registry and OpenAI adapter, against a fake OpenAI server on 127.0.0.1
 * that streams SSE like the real API: what goes over the wire, and pass / fail / malformed / upstream error.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { createApp } from '../../src/app'
import { testConfig } from '../support/config'
import { startFakeVision, type FakeReply, type FakeVision } from '../support/fake-vision'
import { post } from '../support/http'
import { PNG } from './images'

const testCase = { name: 'The board is a 3 by 3 grid', description: 'The page shows a 3 by 3 grid of cells.' }
const PASS = '{"judgment":"pass","explanation":"Nine cells in a square."}'

let fake: FakeVision | undefined
afterEach(() => fake?.stop())

function judgeThrough(replies: FakeReply[]) {
  fake = startFakeVision(replies)
  const config = testConfig({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url, JUDGE_MODEL: 'gpt-4o' })
  const app = createApp({ config })
  return (body: unknown) => post(app, '/api/llm-judge', body)
}

describe('POST /api/llm-judge through the OpenAI adapter', () => {
  test('a pass: the screenshot goes out as an image_url with the data URL, JSON schema requested', async () => {
    const judge = judgeThrough([{ content: PASS }])
    const { status, body } = await judge({ screenshot: PNG, testCase, htmlCode: '<main></main>' })
    expect({ status, body }).toEqual({
      status: 200,
      body: { judgment: 'pass', explanation: 'Nine cells in a square.', model: 'gpt-4o' },
    })
    const [sent] = fake!.requests
    expect(sent!.model).toBe('gpt-4o')
    expect(sent!.response_format?.type).toBe('json_schema')
    const user = sent!.messages.find((m: { role: string }) => m.role === 'user')
    expect(user.content).toContainEqual(
      expect.objectContaining({ type: 'image_url', image_url: expect.objectContaining({ url: PNG }) }),
    )
    expect(JSON.stringify(user.content)).toContain(testCase.description)
    expect(fake!.headers[0]!.get('authorization')).toBe('Bearer sk-test')
  })

  test('a fail', async () => {
    const judge = judgeThrough([{ content: '{"judgment":"fail","explanation":"No grid."}' }])
    const { status, body } = await judge({ screenshot: PNG, testCase })
    expect({ status, body }).toEqual({
      status: 200,
      body: { judgment: 'fail', explanation: 'No grid.', model: 'gpt-4o' },
    })
  })

  test('malformed, then valid', async () => {
    const judge = judgeThrough([{ content: 'I think it passes' }, { content: PASS }])
    const { status, body } = await judge({ screenshot: PNG, testCase })
    expect({ status, judgment: body.judgment }).toEqual({ status: 200, judgment: 'pass' })
    expect(fake!.requests).toHaveLength(2)
  })

  test('an upstream error is a 502 envelope without the key', async () => {
    const judge = judgeThrough([{ status: 400, message: 'Invalid image.', type: 'invalid_request_error' }])
    const { status, body } = await judge({ screenshot: PNG, testCase })
    expect({ status, error_type: body.error_type, success: body.success }).toEqual({
      status: 502,
      error_type: 'upstream_error',
      success: false,
    })
    expect(JSON.stringify(body)).not.toContain('sk-test')
  })
})

describe('the fake vision server', () => {
  test('speaks the streaming protocol the official OpenAI client reads, and records the request', async () => {
    const { default: OpenAI } = await import('openai')
    fake = startFakeVision([{ content: PASS }, { status: 429, message: 'Slow down.' }])
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: fake.url, maxRetries: 0 })
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: PNG } }] }],
    })
    let text = ''
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
    expect(text).toBe(PASS)
    expect(fake.requests[0]!.messages[0].content[0].image_url.url).toBe(PNG)
    const failure = await client.chat.completions.create({ model: 'gpt-4o', messages: [] }).catch((e: unknown) => e)
    expect(failure).toMatchObject({ status: 429 })
  })
})
