/**
 * A fake Anthropic Messages server speaking the exact streaming wire format: `message_start`,
 * `content_block_start`, `ping`, `content_block_delta`s, `content_block_stop`, `message_delta` with the stop
 * reason and usage, `message_stop`. In-stream failures are `event: error`; HTTP failures use Anthropic's error
 * envelope. Like the real API, a request forcing a tool (`tool_choice: { type: 'tool', name }`) is answered with
 * a tool_use block of `input_json_delta`s instead of a text block.
 *
 * @example
 * const fake = startFakeAnthropic([answer('Hello!')])
 * const config = testConfig({ ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: fake.url })
 */
import { startFakeServer, sse, type Dialect, type FakeServer, type Recorded, type Reply } from './fake-sse'

export { answer, Feed, type FakeUsage } from './fake-sse'

const forcedTool = (body: Record<string, any>): string | undefined =>
  body.tool_choice?.type === 'tool' ? String(body.tool_choice.name) : undefined

const dialect: Dialect = {
  path: '/v1/messages',
  open: (body) => [
    sse(
      {
        type: 'message_start',
        message: {
          id: 'msg_fake',
          type: 'message',
          role: 'assistant',
          model: body.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 13, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
        },
      },
      'message_start',
    ),
    sse(
      {
        type: 'content_block_start',
        index: 0,
        content_block: forcedTool(body)
          ? { type: 'tool_use', id: 'toolu_fake', name: forcedTool(body), input: {} }
          : { type: 'text', text: '' },
      },
      'content_block_start',
    ),
    sse({ type: 'ping' }, 'ping'),
  ],
  text: (text, body) =>
    sse(
      {
        type: 'content_block_delta',
        index: 0,
        delta: forcedTool(body) ? { type: 'input_json_delta', partial_json: text } : { type: 'text_delta', text },
      },
      'content_block_delta',
    ),
  finish: (reason, usage, body) => [
    sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop'),
    sse(
      {
        type: 'message_delta',
        delta: { stop_reason: reason ?? (forcedTool(body) ? 'tool_use' : 'end_turn'), stop_sequence: null },
        usage: { output_tokens: usage?.completion ?? 1, ...(usage ? { input_tokens: usage.prompt } : {}) },
      },
      'message_delta',
    ),
    sse({ type: 'message_stop' }, 'message_stop'),
  ],
  error: (message, type) => sse({ type: 'error', error: { type: type ?? 'overloaded_error', message } }, 'error'),
  failure: ({ status, message, type }) =>
    Response.json({ type: 'error', error: { type: type ?? 'invalid_request_error', message } }, { status }),
}

export function startFakeAnthropic(script: Reply[] | ((request: Recorded, index: number) => Reply)): FakeServer {
  return startFakeServer(dialect, (port) => `http://127.0.0.1:${port}`, script)
}
