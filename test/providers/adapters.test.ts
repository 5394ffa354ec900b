/**
 * Both adapters through the real SDKs against the fake servers: parts in order, usage, failures, and that
 * aborting the signal cancels the upstream response stream.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { createAnthropicProvider } from '../../src/providers/anthropic'
import { completeChat, ProviderError } from '../../src/providers'
import { createOpenAIProvider } from '../../src/providers/openai'
import type { ChatProvider, StreamPart } from '../../src/providers/provider'
import { startFakeAnthropic } from '../support/fake-anthropic'
import { startFakeOpenAI } from '../support/fake-openai'
import { answer, Feed, type FakeServer, type Reply } from '../support/fake-sse'

let fake: FakeServer | undefined
afterEach(() => fake?.stop())

const KEY = 'sk-test-adapter-0123456789'
const vendors = {
  openai: (script: Reply[]) => {
    fake = startFakeOpenAI(script)
    return createOpenAIProvider({ apiKey: KEY, baseURL: fake.url })
  },
  anthropic: (script: Reply[]) => {
    fake = startFakeAnthropic(script)
    return createAnthropicProvider({ apiKey: KEY, baseURL: fake.url })
  },
}
const reasons = { openai: 'stop', anthropic: 'end_turn' }

async function collect(provider: ChatProvider, signal?: AbortSignal) {
  const parts: StreamPart[] = []
  for await (const part of provider.stream({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, signal))
    parts.push(part)
  return parts
}

describe.each(['openai', 'anthropic'] as const)('%s adapter', (vendor) => {
  test('text deltas in order, then finish with reason and usage', async () => {
    const provider = vendors[vendor]([answer('Hello world', { pieces: 2 })])
    expect(await collect(provider)).toEqual([
      { type: 'text-delta', text: 'Hello ' },
      { type: 'text-delta', text: 'world' },
      { type: 'finish', reason: reasons[vendor], usage: { promptTokens: 11, completionTokens: 7 } },
    ])
  })

  test('a 429 is one error part with the status; the SDK does not retry', async () => {
    const provider = vendors[vendor]([{ status: 429, message: 'Rate limited' }])
    expect(await collect(provider)).toEqual([
      { type: 'error', error: { status: 429, message: 'The model API answered 429: Rate limited' } },
    ])
    expect(fake!.requests).toHaveLength(1)
  })

  test('a stream that ends without its end marker is an error, not a short answer', async () => {
    const provider = vendors[vendor]([new Feed().push('Hal').cut()])
    expect(await collect(provider)).toEqual([
      { type: 'text-delta', text: 'Hal' },
      { type: 'error', error: { message: 'The model API stream ended before the answer was complete' } },
    ])
  })

  test('aborting the signal cancels the upstream stream and ends quietly', async () => {
    const feed = new Feed().push('Hel')
    const provider = vendors[vendor]([feed])
    const controller = new AbortController()
    const parts: StreamPart[] = []
    for await (const part of provider.stream(
      { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
      controller.signal,
    )) {
      parts.push(part)
      controller.abort()
    }
    await feed.cancelled
    expect(parts).toEqual([{ type: 'text-delta', text: 'Hel' }])
  })

  test('completeChat collects text, reason and usage; a failure throws ProviderError', async () => {
    const provider = vendors[vendor]([answer('All of it.'), { status: 503, message: 'Down' }])
    expect(await completeChat(provider, { model: 'm', messages: [{ role: 'user', content: 'hi' }] })).toEqual({
      text: 'All of it.',
      finishReason: reasons[vendor],
      usage: { promptTokens: 11, completionTokens: 7 },
    })
    const error = await completeChat(provider, { model: 'm', messages: [{ role: 'user', content: 'hi' }] }).catch(
      (e) => e,
    )
    expect(error).toBeInstanceOf(ProviderError)
    expect({ status: error.status, message: error.message }).toEqual({
      status: 503,
      message: 'The model API answered 503: Down',
    })
  })
})

test('an unreachable server is a readable error part', async () => {
  const provider = createOpenAIProvider({ apiKey: KEY, baseURL: 'http://127.0.0.1:9/v1' })
  expect(await collect(provider)).toEqual([{ type: 'error', error: { message: 'Could not reach the model API' } }])
})

test('a keyless OpenAI-compatible server gets a placeholder, never an environment key', async () => {
  const provider = vendors.openai([answer('ok')])
  const keyless = createOpenAIProvider({ baseURL: fake!.url })
  await collect(keyless)
  expect(fake!.requests[0]!.headers.get('authorization')).toBe('Bearer no-key')
  void provider
})

test('a connection broken mid-stream is one error part', async () => {
  const provider = vendors.openai([new Feed().push('Hal').break()])
  const parts = await collect(provider)
  expect(parts.at(-1)?.type).toBe('error')
  expect(parts.filter((p) => p.type === 'error')).toHaveLength(1)
})
