import { loadConfig, type Config, type ConfigKey } from '../../src/config'

/** A valid configuration for tests: defaults plus overrides, never the real environment. */
export function testConfig(overrides: Partial<Record<ConfigKey, string>> = {}): Config {
  return loadConfig({ LOG_LEVEL: 'silent', ...overrides })
}
