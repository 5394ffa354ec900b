/**
 * OpenAI and OpenAI-compatible servers (Ollama, vLLM, OpenRouter) through the official SDK, streaming chat
 * completions with `stream_options.include_usage`. The `finish` part is emitted after the stream ends, because
 * the usage arrives in a chunk of its own after the one carrying `finish_reason`.
 *
 * @example
 * const provider = createOpenAIProvider({ apiKey: config.OPENAI_API_KEY, baseURL: config.OPENAI_BASE_URL })
 * for await (const part of provider.stream({ model: 'gpt-4o-mini', messages }, signal)) ...
 */
import type OpenAI from 'openai'
import type { ChatProvider, StreamPart, Usage } from '../provider'
import { CUT_OFF, describeFailure, type FailureKind } from '../failure'
import { readOpenAIChunk, toOpenAIRequest, type MaxTokensField } from './map'

export interface OpenAIProviderOptions {
  /** Optional for servers that need none (a local Ollama); a placeholder is sent then. */
  apiKey?: string
  /** Default: https://api.openai.com/v1. */
  baseURL?: string
  fetch?: typeof fetch
  /**
   * SDK retries before the first byte. 0 by default: a learner is waiting, and callers that want retries (the
   * judge) own their policy.
   */
  maxRetries?: number
  /** Time to the response headers, in ms. */
  timeoutMs?: number
  maxTokensField?: MaxTokensField
}

const DEFAULT_BASE_URL = 'https://api.openai.com/v1'
// The SDK refuses to start without a key; keyless compatible servers ignore the header.
const NO_KEY = 'no-key'

export function createOpenAIProvider(options: OpenAIProviderOptions): ChatProvider {
  const baseURL = options.baseURL ?? DEFAULT_BASE_URL
  // Every option is passed explicitly: given `undefined`, the SDK would read OPENAI_* from the environment.
  const clientOptions = {
    apiKey: options.apiKey || NO_KEY,
    baseURL,
    organization: null,
    project: null,
    maxRetries: options.maxRetries ?? 0,
    timeout: options.timeoutMs ?? 60_000,
    logLevel: 'off',
    ...(options.fetch ? { fetch: options.fetch } : {}),
  } as const
  // The SDK costs ~140 ms to import: load it on the first request, not at start-up (goal: /health < 300 ms).
  let loaded: Promise<{ sdk: typeof import('openai'); client: OpenAI }> | undefined
  const load = () => (loaded ??= import('openai').then((sdk) => ({ sdk, client: new sdk.default(clientOptions) })))
  const maxTokensField =
    options.maxTokensField ?? (baseURL === DEFAULT_BASE_URL ? 'max_completion_tokens' : 'max_tokens')
  const secrets = [options.apiKey]

  return {
    name: 'openai',
    async *stream(request, signal): AsyncIterable<StreamPart> {
      let reason: string | undefined
      let usage: Usage | undefined
      const { sdk, client } = await load()
      try {
        const stream = await client.chat.completions.create(toOpenAIRequest(request, maxTokensField), { signal })
        for await (const chunk of stream) {
          const reading = readOpenAIChunk(chunk)
          if (reading.text) yield { type: 'text-delta', text: reading.text }
          reason = reading.reason ?? reason
          usage = reading.usage ?? usage
        }
      } catch (error) {
        if (signal?.aborted) return
        yield { type: 'error', error: describeFailure(error, secrets, kindOf(sdk, error)) }
        return
      }
      if (signal?.aborted) return
      if (reason === undefined) yield { type: 'error', error: CUT_OFF }
      else yield { type: 'finish', reason, ...(usage ? { usage } : {}) }
    },
  }
}

const kindOf = (sdk: typeof import('openai'), error: unknown): FailureKind | undefined =>
  error instanceof sdk.APIConnectionTimeoutError
    ? 'timeout'
    : error instanceof sdk.APIConnectionError
      ? 'connection'
      : undefined
