/**
 * The provider registry: model name → adapter. `claude-*` goes to Anthropic, everything else to the
 * OpenAI-compatible adapter. Adapters are built once, at start-up, only for what is configured; a model whose
 * provider is not configured is a 503 `provider_unavailable` when asked for, never a start-up failure.
 *
 * OpenAI-compatible counts as configured with OPENAI_API_KEY or with OPENAI_BASE_URL alone, because local
 * servers (Ollama, vLLM) need no key. Anthropic needs ANTHROPIC_API_KEY.
 *
 * @example
 * const { provider, model } = createProviderRegistry(config).resolve(body.model)
 */
import { AppError } from '../errors'
import type { ChatProvider, ProviderRegistry } from './provider'
import { createOpenAIProvider } from './openai'
import { createAnthropicProvider } from './anthropic'

/** The settings this module reads (src/config.ts documents each). */
export interface ProviderSettings {
  OPENAI_API_KEY: string | undefined
  OPENAI_BASE_URL: string | undefined
  ANTHROPIC_API_KEY: string | undefined
  ANTHROPIC_BASE_URL: string | undefined
  DEFAULT_MODEL: string
}

export { completeChat, ProviderError, type Completion } from './complete'

export interface RegistryOptions {
  /** Used by both adapters instead of the global fetch (tests, proxies). */
  fetch?: typeof fetch
}

export const isAnthropicModel = (model: string) => model.toLowerCase().startsWith('claude-')

export function createProviderRegistry(config: ProviderSettings, options: RegistryOptions = {}): ProviderRegistry {
  const openai: ChatProvider | undefined =
    config.OPENAI_API_KEY || config.OPENAI_BASE_URL
      ? createOpenAIProvider({ apiKey: config.OPENAI_API_KEY, baseURL: config.OPENAI_BASE_URL, fetch: options.fetch })
      : undefined
  const anthropic: ChatProvider | undefined = config.ANTHROPIC_API_KEY
    ? createAnthropicProvider({
        apiKey: config.ANTHROPIC_API_KEY,
        baseURL: config.ANTHROPIC_BASE_URL,
        fetch: options.fetch,
      })
    : undefined
  const defaultProvider = isAnthropicModel(config.DEFAULT_MODEL) ? 'anthropic' : 'openai'

  return {
    // Which providers are configured, never a key or a URL (a URL may carry credentials).
    health: () => ({
      chat: {
        ok: Boolean(defaultProvider === 'anthropic' ? anthropic : openai),
        openai: Boolean(openai),
        anthropic: Boolean(anthropic),
        default_model: config.DEFAULT_MODEL,
        default_provider: defaultProvider,
      },
    }),
    resolve(model = config.DEFAULT_MODEL) {
      if (isAnthropicModel(model)) {
        if (!anthropic) {
          throw new AppError(
            'provider_unavailable',
            503,
            `Model ${model} needs Anthropic, which is not configured (set ANTHROPIC_API_KEY)`,
          )
        }
        return { provider: anthropic, model }
      }
      if (!openai) {
        throw new AppError(
          'provider_unavailable',
          503,
          `Model ${model} needs an OpenAI-compatible provider, which is not configured (set OPENAI_API_KEY or OPENAI_BASE_URL)`,
        )
      }
      return { provider: openai, model }
    },
    close() {},
  }
}
