import { describe, expect, test } from 'bun:test'
import { ConfigError, loadConfig, SETTINGS } from '../../src/config'

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  return []
}

describe('loadConfig', () => {
  test('an empty environment gives working defaults, with no AI key at all', () => {
    const config = loadConfig({})
    expect(config.HOST).toBe('127.0.0.1')
    expect(config.PORT).toBe(4828)
    expect(config.USE_LOCAL_EXECUTION).toBe(true)
    expect(config.SANDBOX).toBe('auto')
    expect(config.TASKS_DIR).toBe('./tasks')
    expect(config.OPENAI_API_KEY).toBeUndefined()
    expect(config.EXEC_TIMEOUT_MS).toBe(5000)
  })

  test('converts numbers and booleans, treats empty values as unset', () => {
    const config = loadConfig({ PORT: '8080', USE_LOCAL_EXECUTION: 'False', TASKS_WATCH: 'yes', HOST: '' })
    expect(config.PORT).toBe(8080)
    expect(config.USE_LOCAL_EXECUTION).toBe(false)
    expect(config.TASKS_WATCH).toBe(true)
    expect(config.HOST).toBe('127.0.0.1')
  })

  test('names every bad variable in one error', () => {
    expect(
      problems({ PORT: 'eighty', SANDBOX: 'maybe', USE_LOCAL_EXECUTION: 'perhaps', OPENAI_BASE_URL: 'ftp://x' }),
    ).toEqual([
      'PORT must be an integer from 0 to 65535 (got "eighty")',
      'OPENAI_BASE_URL must be an http(s) URL (got "ftp://x")',
      'USE_LOCAL_EXECUTION must be true or false (got "perhaps")',
      'SANDBOX must be one of auto, required, off (got "maybe")',
    ])
  })

  test('rejects out-of-range numbers and inconsistent port ranges', () => {
    expect(problems({ PORT: '70000' })).toEqual(['PORT must be an integer from 0 to 65535 (got "70000")'])
    expect(problems({ SERVERS_PORT_MIN: '6000', SERVERS_PORT_MAX: '5000' })).toEqual([
      'SERVERS_PORT_MIN must not be greater than SERVERS_PORT_MAX',
    ])
  })

  test('ALLOWED_HOSTS takes host names and addresses without ports, or *', () => {
    for (const value of ['tutor.example.com', 'localhost, 10.0.0.5,[::1]', '::1', '*']) {
      expect({ value, problems: problems({ ALLOWED_HOSTS: value }) }).toEqual({ value, problems: [] })
    }
    for (const value of ['tutor.example.com:443', 'http://tutor.example.com', 'a b']) {
      expect(problems({ ALLOWED_HOSTS: value })).toEqual([
        `ALLOWED_HOSTS must be a comma list of host names or addresses without ports, or * (got ${JSON.stringify(value)})`,
      ])
    }
  })

  test('never echoes a secret in an error', () => {
    const message = (() => {
      try {
        loadConfig({ PORT: 'x', OPENAI_API_KEY: 'sk-secret' })
      } catch (error) {
        return (error as Error).message
      }
    })()
    expect(message).toContain('PORT')
    expect(message).not.toContain('sk-secret')
  })
})

describe('documentation of settings', () => {
  const keys = Object.keys(SETTINGS)

  test('.env.template documents every variable with a comment', async () => {
    const template = await Bun.file(new URL('../../.env.template', import.meta.url)).text()
    const lines = template.split('\n')
    for (const key of keys) {
      const at = lines.findIndex((line) => new RegExp(`^#?\\s*${key}=`).test(line))
      expect({ key, documented: at > 0 && lines[at - 1]!.startsWith('#') }).toEqual({ key, documented: true })
    }
  })

  test('the configuration table in docs/configuration.md lists every variable', async () => {
    const readme = await Bun.file(new URL('../../docs/configuration.md', import.meta.url)).text()
    const missing = keys.filter((key) => !readme.includes(`| \`${key}\``))
    expect(missing).toEqual([])
  })
})
