/**
 * Anthropic through the official SDK: Messages streaming mapped to StreamParts.
 *
 * @example
 * const provider = createAnthropicProvider({ apiKey: config.ANTHROPIC_API_KEY, baseURL: config.ANTHROPIC_BASE_URL })
 */
import type Anthropic from '@anthropic-ai/sdk'
import type { ChatProvider, StreamPart } from '../provider'
import { CUT_OFF, describeFailure, type FailureKind } from '../failure'
import { readAnthropicEvent, toAnthropicRequest } from './map'

export interface AnthropicProviderOptions {
  apiKey: string
  /** Default: https://api.anthropic.com. */
  baseURL?: string
  fetch?: typeof fetch
  /** SDK retries before the first byte; 0 by default (see the OpenAI adapter). */
  maxRetries?: number
  timeoutMs?: number
}

export function createAnthropicProvider(options: AnthropicProviderOptions): ChatProvider {
  // Explicit values everywhere: given `undefined`, the SDK would read ANTHROPIC_* from the environment.
  const clientOptions = {
    apiKey: options.apiKey,
    baseURL: options.baseURL ?? 'https://api.anthropic.com',
    maxRetries: options.maxRetries ?? 0,
    timeout: options.timeoutMs ?? 60_000,
    logLevel: 'off',
    ...(options.fetch ? { fetch: options.fetch } : {}),
  } as const
  // The SDK costs ~150 ms to import: load it on the first request, not at start-up (goal: /health < 300 ms).
  let loaded: Promise<{ sdk: typeof import('@anthropic-ai/sdk'); client: Anthropic }> | undefined
  const load = () =>
    (loaded ??= import('@anthropic-ai/sdk').then((sdk) => ({ sdk, client: new sdk.default(clientOptions) })))
  const secrets = [options.apiKey]

  return {
    name: 'anthropic',
    async *stream(request, signal): AsyncIterable<StreamPart> {
      let reason: string | undefined
      let inputTokens: number | undefined
      let outputTokens: number | undefined
      let stopped = false
      const { sdk, client } = await load()
      try {
        const stream = await client.messages.create(toAnthropicRequest(request), { signal })
        for await (const event of stream) {
          const reading = readAnthropicEvent(event)
          if (reading.text) yield { type: 'text-delta', text: reading.text }
          reason = reading.reason ?? reason
          inputTokens = reading.inputTokens ?? inputTokens
          outputTokens = reading.outputTokens ?? outputTokens
          if (reading.stop) stopped = true
        }
      } catch (error) {
        if (signal?.aborted) return
        yield { type: 'error', error: describeFailure(error, secrets, kindOf(sdk, error)) }
        return
      }
      if (signal?.aborted) return
      if (!stopped) {
        yield { type: 'error', error: CUT_OFF }
        return
      }
      const usage =
        inputTokens !== undefined && outputTokens !== undefined
          ? { usage: { promptTokens: inputTokens, completionTokens: outputTokens } }
          : {}
      // A forced tool always stops with `tool_use`; for the caller the structured answer simply ended.
      const finished = request.responseFormat && reason === 'tool_use' ? 'end_turn' : reason
      yield { type: 'finish', reason: finished ?? 'end_turn', ...usage }
    },
  }
}

const kindOf = (sdk: typeof import('@anthropic-ai/sdk'), error: unknown): FailureKind | undefined =>
  error instanceof sdk.APIConnectionTimeoutError
    ? 'timeout'
    : error instanceof sdk.APIConnectionError
      ? 'connection'
      : undefined
