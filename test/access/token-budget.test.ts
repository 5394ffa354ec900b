/**
 * AI tokens per client and day (src/access/token-budget.ts), counted from what the fake OpenAI and Anthropic
 * servers report on the wire (OpenAI's usage chunk, Anthropic's message_start / message_delta): over the budget,
 * POST /api/chat and /api/llm-judge are 429 quota_exceeded with Retry-After until midnight UTC, and a /ws/chat
 * request is an `error` frame quota_exceeded. Also: max_tokens capped by AI_MAX_TOKENS as the upstream receives
 * it, and the `tutor_ai_tokens_total` metric.
 */
import { describe, expect, test } from 'bun:test'
import { post } from '../support/http'
import { answer, Feed } from '../support/fake-sse'
import { startFakeOpenAI } from '../support/fake-openai'
import { testApp } from '../support/app'
import { ask, startChat } from '../chat/harness'
import { PNG } from '../judge/images'
import { connectWs } from '../support/ws'

const API_KEYS = 'alice:alice-key-0001,bob:bob-key-0002'
const alice = { authorization: 'Bearer alice-key-0001' }
const bob = { authorization: 'Bearer bob-key-0002' }
const chatBody = { messages: ask('Hi'), mode: 'chat' }
const secondsToMidnightUTC = () => Math.ceil((86_400_000 - (Date.now() % 86_400_000)) / 1000)

describe('chat over HTTP', () => {
  test('the budget is spent by reported usage; then 429 with Retry-After until midnight UTC, other clients unaffected', async () => {
    const usage = { prompt: 11, completion: 7 } // 18 tokens a call
    const harness = startChat({
      openai: [answer('One.', { usage }), answer('Two.', { usage }), answer('Bob.', { usage })],
      config: { API_KEYS, AI_TOKENS_PER_DAY: '30' },
    })
    try {
      expect((await post(harness.app, '/api/chat', chatBody, alice)).status).toBe(200) // 18 of 30
      expect((await post(harness.app, '/api/chat', chatBody, alice)).status).toBe(200) // 36: a call in flight may end above
      const before = secondsToMidnightUTC()
      const refused = await post(harness.app, '/api/chat', chatBody, alice)
      const after = secondsToMidnightUTC()
      expect(refused.status).toBe(429)
      expect(refused.body).toMatchObject({
        success: false,
        error_type: 'quota_exceeded',
        error: expect.stringContaining('36 of 30 tokens'),
        details: { quota: 'ai_tokens_per_day', limit: 30 },
      })
      const retryAfter = Number(refused.headers.get('retry-after'))
      expect(retryAfter).toBeLessThanOrEqual(before)
      expect(retryAfter).toBeGreaterThanOrEqual(after)
      expect(refused.headers.get('ratelimit-policy')).toBe('30;w=86400')
      expect(refused.headers.get('ratelimit')).toBe(`limit=30, remaining=0, reset=${retryAfter}`)
      expect(harness.openai.requests).toHaveLength(2) // the model was not asked a third time

      expect((await post(harness.app, '/api/chat', chatBody, bob)).body.response).toBe('Bob.')
      const metrics = await harness.app.decorator.services.metrics.text()
      expect(metrics).toContain('tutor_ai_tokens_total{model="gpt-test",client="alice",kind="prompt"} 22')
      expect(metrics).toContain('tutor_ai_tokens_total{model="gpt-test",client="alice",kind="completion"} 14')
      expect(metrics).toContain('tutor_ai_tokens_total{model="gpt-test",client="bob",kind="prompt"} 11')
    } finally {
      await harness.stop()
    }
  })

  test('max_tokens reaches the upstream capped by AI_MAX_TOKENS (and the cap is sent when none is asked)', async () => {
    const harness = startChat({
      openai: [answer('a'), answer('b'), answer('c')],
      anthropic: [answer('d')],
      config: { AI_MAX_TOKENS: '100' },
    })
    try {
      await post(harness.app, '/api/chat', { ...chatBody, max_tokens: 5000 })
      await post(harness.app, '/api/chat', chatBody)
      await post(harness.app, '/api/chat', { ...chatBody, max_tokens: 50 })
      await post(harness.app, '/api/chat', { ...chatBody, model: 'claude-test', max_tokens: 5000 })
      expect(harness.openai.requests.map((r) => r.body.max_tokens)).toEqual([100, 100, 50])
      expect(harness.anthropic.requests.map((r) => r.body.max_tokens)).toEqual([100])
    } finally {
      await harness.stop()
    }
  })
})

describe('chat over the WebSocket', () => {
  test('over the budget a request is an error frame quota_exceeded; the socket stays open', async () => {
    const harness = startChat({
      openai: [answer('One.', { usage: { prompt: 20, completion: 15 } })],
      config: { API_KEYS, AI_TOKENS_PER_DAY: '30' },
    })
    try {
      const socket = await connectWs(`${harness.wsUrl}?token=alice-key-0001`)
      socket.send({ ...chatBody, id: 1 })
      expect((await socket.response()).at(-1)).toMatchObject({ type: 'complete', content: 'One.', id: 1 })
      socket.send({ ...chatBody, id: 2 })
      expect(await socket.response()).toEqual([
        { type: 'error', error_type: 'quota_exceeded', content: expect.stringContaining('35 of 30 tokens'), id: 2 },
      ])
      socket.send({ ...chatBody, id: 3 })
      expect((await socket.response()).at(-1)).toMatchObject({ type: 'error', error_type: 'quota_exceeded', id: 3 })
      expect(harness.openai.requests).toHaveLength(1)
      await socket.close()
    } finally {
      await harness.stop()
    }
  })

  test("Anthropic's streamed usage counts, and a cancelled answer is charged an estimate", async () => {
    const endless = new Feed().push('x'.repeat(40)) // never finishes: the learner cancels it
    const harness = startChat({
      anthropic: [answer('Claude.', { usage: { prompt: 25, completion: 9 } }), endless],
      config: { API_KEYS, AI_TOKENS_PER_DAY: '1000' },
    })
    try {
      const socket = await connectWs(`${harness.wsUrl}?token=bob-key-0002`)
      socket.send({ ...chatBody, model: 'claude-test' })
      expect((await socket.response()).at(-1)).toMatchObject({ type: 'complete', usage: { total_tokens: 34 } })
      socket.send({ ...chatBody, model: 'claude-test' })
      expect(await socket.next()).toMatchObject({ type: 'chunk', content: 'x'.repeat(40) })
      socket.send({ type: 'cancel' })
      expect((await socket.response()).at(-1)).toMatchObject({ type: 'complete', cancelled: true })
      await endless.cancelled
      const metrics = await harness.app.decorator.services.metrics.text()
      // 9 reported, then 40 characters received at four a token; the prompt (system prompt included) likewise.
      expect(metrics).toContain('tutor_ai_tokens_total{model="claude-test",client="bob",kind="completion"} 19')
      const prompt = Number(
        /tutor_ai_tokens_total\{model="claude-test",client="bob",kind="prompt"\} (\d+)/.exec(metrics)?.[1],
      )
      expect(prompt).toBeGreaterThan(25 + 1)
      await socket.close()
    } finally {
      await harness.stop()
    }
  })
})

describe('the judge', () => {
  test('every call counts; over the budget it is 429 before the model is asked; max_tokens capped', async () => {
    const verdict = () =>
      answer('{"judgment":"pass","explanation":"A grid."}', { usage: { prompt: 500, completion: 20 } })
    const upstream = startFakeOpenAI([verdict(), verdict()])
    const app = testApp({
      config: {
        API_KEYS,
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: upstream.url,
        JUDGE_MODEL: 'vision-test',
        AI_TOKENS_PER_DAY: '600',
        AI_MAX_TOKENS: '300',
      },
    })
    try {
      const body = { screenshot: PNG, testCase: { name: 'grid', description: 'A 3 by 3 grid.' } }
      expect((await post(app, '/api/llm-judge', body, alice)).body).toMatchObject({ judgment: 'pass' }) // 520
      expect((await post(app, '/api/llm-judge', body, alice)).status).toBe(200) // 1040
      const refused = await post(app, '/api/llm-judge', body, alice)
      expect(refused.status).toBe(429)
      expect(refused.body).toMatchObject({
        error_type: 'quota_exceeded',
        details: { quota: 'ai_tokens_per_day', limit: 600 },
      })
      expect(refused.headers.get('retry-after')).toBe(refused.headers.get('ratelimit')!.split('reset=')[1]!)
      expect(upstream.requests).toHaveLength(2)
      expect(upstream.requests.map((r) => r.body.max_tokens)).toEqual([300, 300])
      const metrics = await app.decorator.services.metrics.text()
      expect(metrics).toContain('tutor_ai_tokens_total{model="vision-test",client="alice",kind="prompt"} 1000')
    } finally {
      upstream.stop()
    }
  })
})
