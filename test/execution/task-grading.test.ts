/**
 * execute-test-cases with `task`: the server takes inputs and expected values from the task and grades private
 * tests itself; what it answers about them is a status and a fixed message, whatever the learner code does to
 * get their inputs out (print them, return them, raise them, read the whole batch from the harness's frames).
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { closeServices, createApp } from '../../src/app'
import { testConfig } from '../support/config'
import { post, postEvents } from '../support/http'
import { SAMPLE_TASKS } from '../tasks/fixture'

const app = createApp({ config: testConfig({ TASKS_DIR: SAMPLE_TASKS }) })
afterAll(() => closeServices(app.decorator.services))

interface DiskTest {
  name: string
  public?: boolean
  endpoint?: string
  input?: unknown
  expected?: unknown
}

const dir = join(SAMPLE_TASKS, 'tic-tac-toe')
const onDisk = (kind: string): DiskTest[] =>
  readdirSync(join(dir, 'tests', kind))
    .sort()
    .flatMap((file) => JSON.parse(readFileSync(join(dir, 'tests', kind, file), 'utf8')).tests)
const backend = onDisk('backend')
const browser = [...onDisk('frontend'), ...onDisk('html')]
const isPrivate = (test: DiskTest) => test.public === false
const solution = readFileSync(join(dir, 'solution.py'), 'utf8')

/** Private inputs and expected values as compact JSON, leaving out those a public test shows as well. */
const shown = JSON.stringify(backend.filter((test) => !isPrivate(test)))
const secrets = [
  ...new Set(
    backend.filter(isPrivate).flatMap((test) => [JSON.stringify(test.input ?? {}), JSON.stringify(test.expected)]),
  ),
].filter((secret) => secret.length >= 8 && !shown.includes(secret))

/** Every string in a value, and the compact JSON of the whole: where a secret could hide in an answer. */
function texts(value: unknown): string[] {
  if (typeof value === 'string') return [value]
  if (Array.isArray(value)) return [JSON.stringify(value), ...value.flatMap(texts)]
  if (value && typeof value === 'object') return [JSON.stringify(value), ...Object.values(value).flatMap(texts)]
  return [JSON.stringify(value)]
}
const leaked = (answer: unknown, needles = secrets) =>
  needles.filter((needle) => texts(answer).some((text) => text.includes(needle)))

// Learner code that tries every way out for an input: stdout, stderr, the return value, an exception message,
// and the cases of its whole batch, looked for by walking up the harness's frames.
const hostile = `
import json, sys

def _batch():
    frame = sys._getframe()
    while frame is not None:
        for name in ('cases', 'job'):
            if name in frame.f_locals:
                return frame.f_locals[name]
        frame = frame.f_back
    return None

def _leak(kwargs):
    text = json.dumps({'args': kwargs, 'batch': _batch()}, separators=(',', ':'), default=repr)
    print(text)
    print(text, file=sys.stderr)
    return text

@endpoint('/check_winner')
def check_winner(**kwargs):
    raise ValueError(_leak(kwargs))

@endpoint('/play_move')
def play_move(**kwargs):
    _leak(kwargs)
    return kwargs

@endpoint('/ai_move')
def ai_move(**kwargs):
    _leak(kwargs)
    return kwargs

@endpoint('/reset')
def reset(**kwargs):
    _leak(kwargs)
    return kwargs
`

const PRIVATE_KEYS = ['actual', 'duration_ms', 'expected', 'message', 'private', 'status', 'testName']

describe('grading a task on the server', () => {
  test('the reference solution passes every backend test, private ones included; browser tests are skipped', async () => {
    const { status, body } = await post(app, '/api/execute-test-cases', {
      task: 'tic-tac-toe',
      include_private: true,
      backendCode: solution,
    })
    expect(status).toBe(200)
    expect(body.results.map((r: { testName: string }) => r.testName)).toEqual(
      [...backend, ...browser].map((t) => t.name),
    )
    expect(body.summary).toEqual({
      total: backend.length + browser.length,
      passed: backend.length,
      failed: 0,
      errors: 0,
      skipped: browser.length,
    })
    const hidden = body.results.filter((r: { private?: boolean }) => r.private)
    expect(hidden.map((r: { testName: string }) => r.testName)).toEqual(
      [...backend, ...browser].filter(isPrivate).map((t) => t.name),
    )
    const passed = hidden.find((r: { testName: string }) => r.testName === backend.find(isPrivate)!.name)
    expect(passed).toEqual({
      testName: expect.any(String),
      status: 'pass',
      message: 'Hidden test passed',
      expected: null,
      actual: null,
      duration_ms: expect.any(Number),
      private: true,
    })
    const skipped = body.results.find((r: { testName: string }) => r.testName === browser.find(isPrivate)!.name)
    expect(skipped).toMatchObject({ status: 'skip', private: true })
    expect(skipped.message).toContain('not run on the server')
    expect(leaked(body)).toEqual([])
  }, 60_000)

  test('without include_private only public tests run; `tests` picks by name (task by slug or name)', async () => {
    const all = await post(app, '/api/execute-test-cases', { task: 'Tic Tac Toe', backendCode: solution })
    expect(all.body.results.map((r: { testName: string }) => r.testName)).toEqual(
      [...backend, ...browser].filter((t) => !isPrivate(t)).map((t) => t.name),
    )
    expect(all.body.results.some((r: { private?: boolean }) => r.private)).toBe(false)
    const chosen = [backend[0]!.name, backend.find(isPrivate)!.name]
    const picked = await post(app, '/api/execute-test-cases', {
      task: 'tic-tac-toe',
      tests: chosen,
      include_private: true,
      backendCode: solution,
    })
    expect(picked.body.results.map((r: { testName: string; status: string }) => [r.testName, r.status])).toEqual(
      chosen.map((name) => [name, 'pass']),
    )
  }, 60_000)

  test('learner code that prints, returns and raises its inputs gets none of the private ones back (JSON)', async () => {
    expect(secrets.length).toBeGreaterThanOrEqual(15)
    const { status, body } = await post(app, '/api/execute-test-cases', {
      task: 'tic-tac-toe',
      include_private: true,
      backendCode: hostile,
    })
    expect(status).toBe(200)
    expect(body.summary.passed).toBe(0)
    // The code does reach its inputs: a public case shows its own (no other case's: see private-inputs.test.ts).
    const publicInput = JSON.stringify(backend.find((t) => !isPrivate(t) && t.endpoint === '/play_move')!.input)
    expect(leaked(body, [publicInput])).toEqual([publicInput])
    expect(leaked(body)).toEqual([])
    for (const result of body.results.filter((r: { private?: boolean }) => r.private)) {
      expect(Object.keys(result).filter((key) => !PRIVATE_KEYS.includes(key) && key !== 'error_type')).toEqual([])
      expect([
        'Hidden test failed',
        'Hidden test raised an error',
        'Hidden test skipped: browser and judge tests are not run on the server',
      ]).toContain(result.message)
    }
  }, 60_000)

  test('the same in the event stream: result events and the summary', async () => {
    const { headers, events } = await postEvents(app, '/api/execute-test-cases', {
      task: 'tic-tac-toe',
      include_private: true,
      backendCode: hostile,
    })
    expect(headers.get('content-type')).toContain('text/event-stream')
    expect(events.filter((e) => e.event === 'result').length).toBe(backend.length + browser.length)
    expect(events.at(-1)!.event).toBe('summary')
    expect(leaked(events)).toEqual([])
    expect(events.filter((e) => e.event === 'result' && e.data.private).length).toBe(
      [...backend, ...browser].filter(isPrivate).length,
    )
  }, 60_000)
})

describe('asking for tests that are not there', () => {
  const run = (body: Record<string, unknown>) =>
    post(app, '/api/execute-test-cases', { backendCode: solution, ...body })

  test('an unknown task is a 404', async () => {
    const { status, body } = await run({ task: 'No Such Task' })
    expect({ status, error_type: body.error_type }).toEqual({ status: 404, error_type: 'task_not_found' })
  })

  test('an unknown test name is a 422 naming it', async () => {
    const { status, body } = await run({ task: 'tic-tac-toe', tests: [backend[0]!.name, 'No such test'] })
    expect({ status, error_type: body.error_type, tests: body.details.tests }).toEqual({
      status: 422,
      error_type: 'test_not_found',
      tests: ['No such test'],
    })
    expect(body.error).toContain('"No such test"')
  })

  test('a private test named without include_private is a 422 saying so', async () => {
    const name = backend.find(isPrivate)!.name
    const { status, body } = await run({ task: 'tic-tac-toe', tests: [name] })
    expect({ status, error_type: body.error_type }).toEqual({ status: 422, error_type: 'private_test' })
    expect(body.error).toContain('include_private')
  })

  test('exactly one of testCases or task', async () => {
    for (const body of [{}, { task: 'tic-tac-toe', testCases: [] }]) {
      const reply = await run(body)
      expect({ status: reply.status, error_type: reply.body.error_type }).toEqual({
        status: 422,
        error_type: 'validation_error',
      })
    }
  })
})
