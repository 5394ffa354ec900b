/**
 * Provider registry built from configuration (issue 4 fills in the adapters).
 */
import type { Config } from '../config'
import type { ProviderRegistry } from './provider'
import { AppError } from '../errors'

export function createProviderRegistry(config: Config): ProviderRegistry {
  const openai = Boolean(config.OPENAI_API_KEY) || Boolean(config.OPENAI_BASE_URL)
  const anthropic = Boolean(config.ANTHROPIC_API_KEY)
  return {
    health: () => ({
      chat: { ok: openai || anthropic, openai, anthropic, default_model: config.DEFAULT_MODEL },
    }),
    resolve(model = config.DEFAULT_MODEL) {
      throw new AppError('provider_unavailable', 503, `No chat provider is configured for model ${model}`)
    },
    close() {},
  }
}
