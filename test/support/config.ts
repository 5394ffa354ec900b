import { loadConfig, type Config, type ConfigKey } from '../../src/config'

/**
 * A valid configuration for tests: defaults plus overrides, never the real environment. No sandbox pool unless
 * a test asks for one: many apps are built and not every test closes its runner, and idle pooled sandboxes
 * (uid 65534) would count against the process limit of runs that share that uid.
 */
export function testConfig(overrides: Partial<Record<ConfigKey, string>> = {}): Config {
  // Test runs side by side on one host (several checkouts) each take their own uid range.
  const uidBase = process.env.TEST_SANDBOX_UID_BASE ?? '100000'
  // Each app its own database in memory, unless a test names one.
  return loadConfig({
    LOG_LEVEL: 'silent',
    EXEC_POOL_SIZE: '0',
    SANDBOX_UID_BASE: uidBase,
    DATABASE_URL: 'sqlite::memory:',
    ...overrides,
  })
}
