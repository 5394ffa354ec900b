/**
 * A fake OpenAI chat-completions server speaking the exact streaming wire format: a role chunk, content
 * chunks, a chunk with `finish_reason`, a usage chunk with empty `choices` (when `stream_options.include_usage`),
 * then `data: [DONE]`. Failures use OpenAI's error envelope. Script it per test with Feeds.
 *
 * @example
 * const fake = startFakeOpenAI([answer('Hello!')])
 * const config = testConfig({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url })
 */
import { startFakeServer, sse, type Dialect, type FakeServer, type Recorded, type Reply } from './fake-sse'

export { answer, Feed, type FakeUsage } from './fake-sse'

const openai: Dialect = {
  path: '/v1/chat/completions',
  open: (body) => [sse(chunk(body, { role: 'assistant', content: '' }, null))],
  text: (text, body) => sse(chunk(body, { content: text }, null)),
  finish(reason, usage, body) {
    const lines = [sse(chunk(body, {}, reason ?? 'stop'))]
    if (usage && body.stream_options?.include_usage) {
      const usageChunk = {
        ...chunk(body, {}, null),
        choices: [],
        usage: {
          prompt_tokens: usage.prompt,
          completion_tokens: usage.completion,
          total_tokens: usage.prompt + usage.completion,
        },
      }
      lines.push(sse(usageChunk))
    }
    lines.push('data: [DONE]\n\n')
    return lines
  },
  error: (message, type) => sse({ error: { message, type: type ?? 'server_error', param: null, code: null } }),
  failure: ({ status, message, type }) =>
    Response.json({ error: { message, type: type ?? 'invalid_request_error', param: null, code: null } }, { status }),
}

function chunk(body: Record<string, any>, delta: Record<string, unknown>, finish_reason: string | null) {
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: body.model,
    system_fingerprint: 'fp_fake',
    choices: [{ index: 0, delta, logprobs: null, finish_reason }],
  }
}

export function startFakeOpenAI(script: Reply[] | ((request: Recorded, index: number) => Reply)): FakeServer {
  return startFakeServer(openai, (port) => `http://127.0.0.1:${port}/v1`, script)
}
