/**
 * Per-key quota overrides (src/access/keys.ts, `quotas` in API_KEYS_FILE): each field replaces its setting for
 * that key only; a bad value, an unknown quota or a malformed line stops the server with a message naming the
 * entry. The server process test shows the message a teacher sees.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAccess } from '../../src/access'
import { ConfigError } from '../../src/config'
import { post } from '../support/http'
import { testApp } from '../support/app'
import { keyHash } from '../support/keys'
import { startServer } from '../support/process'
import { gateRunner, instantRunner } from './gate-runner'

const dir = mkdtempSync(join(tmpdir(), 'key-quotas-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const file = (name: string, text: string) => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}
const bearer = (key: string) => ({ authorization: `Bearer ${key}` })
const request = (key: string) => new Request('http://localhost/x', { headers: bearer(key) })
const code = { pythonCode: 'def f():\n    return 1\n' }

const KEYS = file(
  'keys.json',
  JSON.stringify([
    { name: 'alice', hash: keyHash('alice-key'), quotas: { executionPerMin: 1, concurrentExecutions: 0 } },
    {
      name: 'teacher',
      hash: keyHash('teacher-key'),
      role: 'admin',
      quotas: { executionPerMin: 0, concurrentExecutions: 3 },
    },
    { name: 'bob', hash: keyHash('bob-key') },
  ]),
)

describe('overrides at work', () => {
  test("a key's per-minute limit replaces the setting for that key only; 0 lifts it", async () => {
    const app = testApp({ runner: instantRunner(), config: { API_KEYS_FILE: KEYS, RATE_EXECUTION_PER_MIN: '2' } })
    const run = (key: string) => post(app, '/api/validate-python', code, bearer(key))
    expect((await run('alice-key')).headers.get('ratelimit-policy')).toBe('1;w=60')
    const refused = await run('alice-key')
    expect(refused.status).toBe(429)
    expect(refused.body.details).toMatchObject({ route_class: 'execution', limit: 1 })
    expect((await run('bob-key')).status).toBe(200)
    expect((await run('bob-key')).headers.get('ratelimit')).toStartWith('limit=2, remaining=0,')
    for (let i = 0; i < 4; i++) {
      const reply = await run('teacher-key')
      expect(reply.status).toBe(200)
      expect(reply.headers.get('ratelimit')).toBeNull()
    }
  })

  test("a key's concurrent executions replace the setting", async () => {
    const gate = gateRunner()
    const app = testApp({
      runner: gate.runner,
      config: { API_KEYS_FILE: KEYS, CONCURRENT_EXECUTIONS_PER_CLIENT: '1', RATE_EXECUTION_PER_MIN: '0' },
    })
    const runs = [1, 2, 3].map(() => post(app, '/api/validate-python', code, bearer('teacher-key')))
    const started = [await gate.started(), await gate.started(), await gate.started()]
    const fourth = await post(app, '/api/validate-python', code, bearer('teacher-key'))
    expect(fourth.status).toBe(429)
    expect(fourth.body.details).toMatchObject({ quota: 'concurrent_executions', limit: 3 })
    const bob = post(app, '/api/validate-python', code, bearer('bob-key'))
    const bobRun = await gate.started()
    expect((await post(app, '/api/validate-python', code, bearer('bob-key'))).body.details.limit).toBe(1)
    for (const run of [...started, bobRun]) run.finish()
    expect((await Promise.all([...runs, bob])).map((reply) => reply.status)).toEqual([200, 200, 200, 200])
  })
})

describe('the key file', () => {
  test('JSON and lines both carry quotas; the identity carries them', () => {
    const lines = file(
      'keys.txt',
      `carol ${keyHash('c-key')} learner aiTokensPerDay=5000 concurrentSockets=2\ndan ${keyHash('d-key')} chatPerMin=3\n`,
    )
    const access = createAccess({ API_KEYS: undefined, API_KEYS_FILE: lines })
    expect(access.identity(request('c-key'))).toEqual({
      name: 'carol',
      role: 'learner',
      quotas: { aiTokensPerDay: 5000, concurrentSockets: 2 },
    })
    expect(access.identity(request('d-key'))).toEqual({ name: 'dan', role: 'learner', quotas: { chatPerMin: 3 } })
    const json = createAccess({ API_KEYS: undefined, API_KEYS_FILE: KEYS })
    expect(json.identity(request('teacher-key'))).toEqual({
      name: 'teacher',
      role: 'admin',
      quotas: { executionPerMin: 0, concurrentExecutions: 3 },
    })
    expect(json.identity(request('bob-key'))).toEqual({ name: 'bob', role: 'learner' })
  })

  test('a bad quota is a configuration error naming the entry and the quota', () => {
    const bad = file(
      'bad.json',
      JSON.stringify([
        { name: 'ann', hash: keyHash('a'), quotas: { aiTokensPerDay: -5 } },
        { name: 'ben', hash: keyHash('b'), quotas: { tokensPerDay: 10 } },
        { name: 'cat', hash: keyHash('c'), quotas: [1] },
        { name: 'dot', hash: keyHash('d'), quotas: { chatPerMin: 1.5 } },
      ]),
    )
    const message = messageOf(() => createAccess({ API_KEYS: undefined, API_KEYS_FILE: bad }))
    expect(message).toContain('entry 1 (ann): quotas/aiTokensPerDay must be a whole number from 0')
    expect(message).toContain('entry 2 (ben): unknown quota "tokensPerDay"; known: executionPerMin')
    expect(message).toContain('entry 3 (cat): quotas must be an object')
    expect(message).toContain('entry 4 (dot): quotas/chatPerMin must be a whole number')
    const line = file('bad.txt', `eve ${keyHash('e')} admin chatPerMin=lots\n`)
    expect(messageOf(() => createAccess({ API_KEYS: undefined, API_KEYS_FILE: line }))).toContain(
      'line 1: expected "name sha256:<hex> [role] [quota=value ...]"',
    )
    const unknown = file('unknown.txt', `fay ${keyHash('f')} speed=3\n`)
    expect(messageOf(() => createAccess({ API_KEYS: undefined, API_KEYS_FILE: unknown }))).toContain(
      'line 1 (fay): unknown quota "speed"',
    )
  })

  test('the server refuses to start with a bad quota, saying where', async () => {
    const bad = file(
      'start.json',
      JSON.stringify([{ name: 'ann', hash: keyHash('a'), quotas: { concurrentSockets: 'two' } }]),
    )
    const server = startServer({ API_KEYS_FILE: bad })
    expect(await server.proc.exited).toBe(2)
    expect(await server.stderr()).toContain('entry 1 (ann): quotas/concurrentSockets must be a whole number from 0')
  }, 30_000)
})

function messageOf(attempt: () => unknown): string {
  try {
    attempt()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as Error).message
  }
  throw new Error('expected a ConfigError')
}
