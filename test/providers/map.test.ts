/** The vendor mappings are pure functions: request building and event reading, one vendor event at a time. */
import { describe, expect, test } from 'bun:test'
import { readOpenAIChunk, toOpenAIRequest } from '../../src/providers/openai/map'
import { DEFAULT_MAX_TOKENS, readAnthropicEvent, toAnthropicRequest } from '../../src/providers/anthropic/map'
import type { ChatRequest } from '../../src/providers/provider'

const request: ChatRequest = {
  model: 'm',
  messages: [
    { role: 'system', content: 'Be brief.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is this?' },
        { type: 'image', mediaType: 'image/png', data: 'iVBORw0KGgo=' },
      ],
    },
    { role: 'assistant', content: 'A logo.' },
  ],
  maxTokens: 50,
  temperature: 0,
  responseFormat: { type: 'json', name: 'answer', schema: { type: 'object' } },
}

describe('OpenAI mapping', () => {
  test('request: images as data-URL image_url parts, usage asked for, strict JSON schema', () => {
    expect(toOpenAIRequest(request, 'max_completion_tokens')).toEqual({
      model: 'm',
      stream: true,
      stream_options: { include_usage: true },
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          ],
        },
        { role: 'assistant', content: 'A logo.' },
      ],
      max_completion_tokens: 50,
      temperature: 0,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'answer', schema: { type: 'object' }, strict: true },
      },
    })
  })

  test('request: compatible servers get max_tokens; nothing optional is sent when not asked', () => {
    expect(toOpenAIRequest({ ...request, responseFormat: undefined }, 'max_tokens')).toMatchObject({ max_tokens: 50 })
    const plain = toOpenAIRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, 'max_tokens')
    expect(Object.keys(plain).sort()).toEqual(['messages', 'model', 'stream', 'stream_options'])
  })

  const chunk = (choices: unknown[], usage?: unknown) =>
    ({ id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm', choices, ...(usage ? { usage } : {}) }) as any

  test.each([
    ['role chunk', chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]), { text: '' }],
    ['content', chunk([{ index: 0, delta: { content: 'Hi' }, finish_reason: null }]), { text: 'Hi' }],
    ['finish', chunk([{ index: 0, delta: {}, finish_reason: 'length' }]), { text: '', reason: 'length' }],
    [
      'usage chunk',
      chunk([], { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 }),
      { text: '', usage: { promptTokens: 3, completionTokens: 4 } },
    ],
  ])('chunk: %s', (_name, input, expected) => {
    expect(readOpenAIChunk(input)).toEqual(expected)
  })
})

describe('Anthropic mapping', () => {
  test('request: system on top, images as base64 sources, max_tokens, structured output as a forced tool', () => {
    expect(toAnthropicRequest(request)).toEqual({
      model: 'm',
      stream: true,
      max_tokens: 50,
      system: 'Be brief.',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
          ],
        },
        { role: 'assistant', content: 'A logo.' },
      ],
      tools: [{ name: 'answer', description: expect.any(String), input_schema: { type: 'object' } }],
      tool_choice: { type: 'tool', name: 'answer', disable_parallel_tool_use: true },
    })
  })

  test('request: max_tokens is required by the API, so it has a default', () => {
    expect(toAnthropicRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })).toEqual({
      model: 'm',
      stream: true,
      max_tokens: DEFAULT_MAX_TOKENS,
      messages: [{ role: 'user', content: 'hi' }],
    })
  })

  test.each([
    [
      'message_start',
      { type: 'message_start', message: { usage: { input_tokens: 9, output_tokens: 1 } } },
      { text: '', inputTokens: 9, outputTokens: 1 },
    ],
    ['ping', { type: 'ping' }, { text: '' }],
    [
      'text_delta',
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } },
      { text: 'Hi' },
    ],
    [
      'input_json_delta',
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"co' } },
      { text: '{"co' },
    ],
    [
      'thinking_delta',
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hm' } },
      { text: '' },
    ],
    [
      'message_delta',
      { type: 'message_delta', delta: { stop_reason: 'max_tokens', stop_sequence: null }, usage: { output_tokens: 5 } },
      { text: '', reason: 'max_tokens', outputTokens: 5 },
    ],
    ['message_stop', { type: 'message_stop' }, { text: '', stop: true }],
  ])('event: %s', (_name, input, expected) => {
    expect(readAnthropicEvent(input as any)).toEqual(expected as any)
  })
})
