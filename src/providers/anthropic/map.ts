/**
 * Pure mapping between our ChatRequest / StreamPart and Anthropic's Messages API. Structured output is a forced
 * tool (`tool_choice: { type: 'tool', name }`) whose input schema is the requested one: every Claude model and
 * Anthropic-compatible proxy supports it, unlike `output_config.format`, which only recent models accept. The
 * tool's arguments stream as `input_json_delta`s, read as text, so the incremental JSON reader works unchanged.
 */
import type {
  ContentBlockParam,
  MessageCreateParamsStreaming,
  MessageParam,
  RawMessageStreamEvent,
  Tool,
} from '@anthropic-ai/sdk/resources/messages'
import type { ChatMessage, ChatRequest, ContentPart } from '../provider'

/** The Messages API requires `max_tokens`; used when the request names none. */
export const DEFAULT_MAX_TOKENS = 4096

type ImageMediaType = 'image/jpeg' | 'image/png' | 'image/gif' | 'image/webp'

const textOf = (content: string | ContentPart[]) =>
  typeof content === 'string' ? content : content.map((part) => (part.type === 'text' ? part.text : '')).join('')

function toBlock(part: ContentPart): ContentBlockParam {
  if (part.type === 'text') return { type: 'text', text: part.text }
  return { type: 'image', source: { type: 'base64', media_type: part.mediaType as ImageMediaType, data: part.data } }
}

/** System messages go to the top-level `system` field; the rest keep their order. */
export function toAnthropicRequest(request: ChatRequest): MessageCreateParamsStreaming {
  const system = request.messages
    .filter((m) => m.role === 'system')
    .map((m) => textOf(m.content))
    .join('\n\n')
  const messages: MessageParam[] = request.messages
    .filter((m): m is ChatMessage & { role: 'user' | 'assistant' } => m.role !== 'system')
    .map((m) => ({ role: m.role, content: typeof m.content === 'string' ? m.content : m.content.map(toBlock) }))
  const body: MessageCreateParamsStreaming = {
    model: request.model,
    max_tokens: request.maxTokens ?? DEFAULT_MAX_TOKENS,
    messages,
    stream: true,
  }
  if (system) body.system = system
  // `temperature` is not part of this SDK's Messages parameters any more; the model's default applies.
  if (request.responseFormat) {
    const { name, schema } = request.responseFormat
    body.tools = [
      { name, description: 'Give your whole answer through this tool.', input_schema: schema as Tool.InputSchema },
    ]
    body.tool_choice = { type: 'tool', name, disable_parallel_tool_use: true }
  }
  return body
}

/** What one event says; token counts are cumulative, so later readings replace earlier ones. */
export interface AnthropicEventReading {
  text: string
  reason?: string
  inputTokens?: number
  outputTokens?: number
  /** `message_stop`: the answer is complete. */
  stop?: true
}

/**
 * @example
 * readAnthropicEvent({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } }) // → { text: 'Hi' }
 */
export function readAnthropicEvent(event: RawMessageStreamEvent): AnthropicEventReading {
  switch (event.type) {
    case 'message_start': {
      const usage = event.message.usage
      return {
        text: '',
        inputTokens: usage?.input_tokens ?? undefined,
        outputTokens: usage?.output_tokens ?? undefined,
      }
    }
    case 'content_block_delta': {
      const delta = event.delta
      if (delta.type === 'text_delta') return { text: delta.text }
      if (delta.type === 'input_json_delta') return { text: delta.partial_json }
      return { text: '' }
    }
    case 'message_delta': {
      const reading: AnthropicEventReading = { text: '', outputTokens: event.usage.output_tokens }
      if (event.usage.input_tokens != null) reading.inputTokens = event.usage.input_tokens
      if (event.delta.stop_reason) reading.reason = event.delta.stop_reason
      return reading
    }
    case 'message_stop':
      return { text: '', stop: true }
    default:
      return { text: '' }
  }
}
