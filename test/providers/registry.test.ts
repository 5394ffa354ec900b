import { describe, expect, test } from 'bun:test'
import { createProviderRegistry } from '../../src/providers'
import { AppError } from '../../src/errors'
import { testConfig } from '../support/config'

const resolveError = (fn: () => unknown) => {
  try {
    fn()
  } catch (error) {
    return error as AppError
  }
  throw new Error('expected resolve to throw')
}

describe('createProviderRegistry', () => {
  test('claude-* goes to Anthropic, everything else to the OpenAI-compatible adapter; DEFAULT_MODEL when none', () => {
    const registry = createProviderRegistry(
      testConfig({ OPENAI_API_KEY: 'sk-o', ANTHROPIC_API_KEY: 'sk-a', DEFAULT_MODEL: 'gpt-4o-mini' }),
    )
    expect(registry.resolve('claude-sonnet-4-5').provider.name).toBe('anthropic')
    expect(registry.resolve('llama3.2').provider.name).toBe('openai')
    expect(registry.resolve()).toMatchObject({ model: 'gpt-4o-mini', provider: { name: 'openai' } })
  })

  test('without keys it starts fine and answers 503 provider_unavailable when asked', () => {
    const registry = createProviderRegistry(testConfig())
    for (const model of ['gpt-4o', 'claude-x']) {
      const error = resolveError(() => registry.resolve(model))
      expect(error).toBeInstanceOf(AppError)
      expect({ code: error.code, status: error.status }).toEqual({ code: 'provider_unavailable', status: 503 })
    }
  })

  test('an OpenAI-compatible base URL alone is enough (local servers need no key)', () => {
    const registry = createProviderRegistry(testConfig({ OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' }))
    expect(registry.resolve('llama3.2').provider.name).toBe('openai')
  })

  test('health says which providers are configured, never a key or a URL', () => {
    const config = testConfig({
      OPENAI_API_KEY: 'sk-secret-1',
      OPENAI_BASE_URL: 'http://user:pw@127.0.0.1:1/v1',
      DEFAULT_MODEL: 'claude-x',
    })
    const report = createProviderRegistry(config).health()
    expect(report).toEqual({
      chat: { ok: false, openai: true, anthropic: false, default_model: 'claude-x', default_provider: 'anthropic' },
    })
    expect(JSON.stringify(report)).not.toContain('secret')
    expect(JSON.stringify(report)).not.toContain('pw')
  })
})
