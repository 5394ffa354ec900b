/**
 * Pure mapping between our ChatRequest / StreamPart and the OpenAI chat-completions wire format.
 */
import type {
  ChatCompletionChunk,
  ChatCompletionContentPart,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions'
import type { ChatMessage, ChatRequest, ContentPart, Usage } from '../provider'

/** api.openai.com wants `max_completion_tokens` (reasoning models refuse `max_tokens`); most compatible servers know only `max_tokens`. */
export type MaxTokensField = 'max_tokens' | 'max_completion_tokens'

const textOf = (content: string | ContentPart[]) =>
  typeof content === 'string' ? content : content.map((part) => (part.type === 'text' ? part.text : '')).join('')

/** Images become `image_url` parts with a data URL; only user messages may carry them. */
export function toOpenAIMessage(message: ChatMessage): ChatCompletionMessageParam {
  if (message.role !== 'user' || typeof message.content === 'string') {
    return { role: message.role, content: textOf(message.content) }
  }
  const content: ChatCompletionContentPart[] = message.content.map((part) =>
    part.type === 'text'
      ? { type: 'text', text: part.text }
      : { type: 'image_url', image_url: { url: `data:${part.mediaType};base64,${part.data}` } },
  )
  return { role: 'user', content }
}

export function toOpenAIRequest(
  request: ChatRequest,
  maxTokensField: MaxTokensField,
): ChatCompletionCreateParamsStreaming {
  const body: ChatCompletionCreateParamsStreaming = {
    model: request.model,
    messages: request.messages.map(toOpenAIMessage),
    stream: true,
    stream_options: { include_usage: true },
  }
  if (request.maxTokens !== undefined) body[maxTokensField] = request.maxTokens
  if (request.temperature !== undefined) body.temperature = request.temperature
  if (request.responseFormat) {
    const { name, schema } = request.responseFormat
    body.response_format = { type: 'json_schema', json_schema: { name, schema, strict: true } }
  }
  return body
}

/** What one chunk says: new text, and (in the last chunks) why it finished and the usage. */
export interface OpenAIChunkReading {
  text: string
  reason?: string
  usage?: Usage
}

/**
 * @example
 * readOpenAIChunk({ choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }], ... }) // → { text: 'Hi' }
 */
export function readOpenAIChunk(chunk: ChatCompletionChunk): OpenAIChunkReading {
  const choice = chunk.choices?.[0]
  const reading: OpenAIChunkReading = { text: choice?.delta?.content ?? '' }
  if (choice?.finish_reason) reading.reason = choice.finish_reason
  if (chunk.usage) {
    reading.usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens }
  }
  return reading
}
