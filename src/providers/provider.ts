/**
 * The ChatProvider port: every vendor adapter turns a ChatRequest into a stream of StreamParts, and the
 * registry picks the adapter for a model name. Chat (issue 4) and the judge (issue 5) depend only on this file.
 */
import type { Service } from '../services'

export type Role = 'system' | 'user' | 'assistant'

/** A message part; images are base64 without the `data:` prefix. */
export type ContentPart = { type: 'text'; text: string } | { type: 'image'; mediaType: string; data: string }

export interface ChatMessage {
  role: Role
  content: string | ContentPart[]
}

/** Ask for a JSON answer matching `schema` (a JSON Schema object), by whatever the vendor supports best. */
export interface JsonResponseFormat {
  type: 'json'
  name: string
  schema: Record<string, unknown>
}

export interface ChatRequest {
  model: string
  messages: ChatMessage[]
  maxTokens?: number
  temperature?: number
  responseFormat?: JsonResponseFormat
}

export interface Usage {
  promptTokens: number
  completionTokens: number
}

/** A failure of the upstream model API; `message` is readable and never contains a key. */
export interface ProviderFailure {
  message: string
  status?: number
}

export type StreamPart =
  | { type: 'text-delta'; text: string }
  | { type: 'finish'; reason: string; usage?: Usage }
  | { type: 'error'; error: ProviderFailure }

export interface ChatProvider {
  readonly name: string
  /** Streams one answer. Aborting `signal` must cancel the upstream HTTP request. */
  stream(request: ChatRequest, signal?: AbortSignal): AsyncIterable<StreamPart>
}

export interface ProviderRegistry extends Service {
  /**
   * The provider and model for a request (`DEFAULT_MODEL` when none is given).
   * Throws AppError('provider_unavailable', 503) when that provider has no key configured.
   */
  resolve(model?: string): { provider: ChatProvider; model: string }
}
