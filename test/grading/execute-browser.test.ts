/**
 * execute-test-cases with `frontendCode`: browser tests (frontend_interactive) go to the browser runner instead of
 * being skipped, endpoint cases to the sandbox as before, results in the order sent. Without `frontendCode`
 * nothing changes. A recording browser stands in for Chromium here (./reference.test.ts uses the real one).
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { closeServices, createApp } from '../../src/app'
import { testConfig } from '../support/config'
import { post, postEvents } from '../support/http'
import { SAMPLE_TASKS } from '../tasks/fixture'
import { diskTests, frontEnd, solution } from './disk'
import { fakeBrowser, passed } from './fake-browser'
import type { InteractiveTest } from '../../src/browser'

const browser = fakeBrowser({
  answer: (test: InteractiveTest) =>
    test.name?.includes('fails')
      ? {
          status: 'fail',
          message: 'Step 1 failed',
          steps: [
            {
              index: 0,
              kind: 'elementText',
              status: 'fail',
              message: 'no',
              selector: '#a',
              expected: 'SECRET',
              actual: 'b',
            },
          ],
          durationMs: 5,
          screenshot: 'data:image/png;base64,SHOT',
        }
      : passed(test),
})
const app = createApp({ config: testConfig({ TASKS_DIR: SAMPLE_TASKS }), browser })
afterAll(() => closeServices(app.decorator.services))

const page = { html: '<p id="a">a</p>' }
const code = '@endpoint\ndef add(a, b):\n    return a + b'
const steps = [{ assert: 'elementText', selector: '#a', expected: 'a' }]
const cases = [
  { name: 'adds', endpoint: '/add', input: { a: 1, b: 2 }, expected: 3 },
  { name: 'flat', type: 'frontend_interactive', steps },
  { name: 'wrapped', metadata: { type: 'frontend_interactive', steps } },
]
const run = (body: object, headers?: Record<string, string>) =>
  post(app, '/api/execute-test-cases', { backendCode: code, ...body }, headers)
const brief = (results: { testName: string; status: string }[]) => results.map((r) => [r.testName, r.status])

describe('execute-test-cases runs browser tests when frontendCode is given', () => {
  test('browser cases (flat or wrapped) run in the browser, endpoint cases in the sandbox, in the order sent', async () => {
    const before = browser.calls.length
    const { status, body } = await run({ testCases: cases, frontendCode: page })
    expect(status).toBe(200)
    expect(brief(body.results)).toEqual([
      ['adds', 'pass'],
      ['flat', 'pass'],
      ['wrapped', 'pass'],
    ])
    expect(body.summary).toEqual({ total: 3, passed: 3, failed: 0, errors: 0, skipped: 0 })
    expect(body.results[1].steps).toEqual([{ index: 0, kind: 'elementText', status: 'pass', message: 'ok' }])
    const calls = browser.calls.slice(before)
    expect(calls.map((c) => [c.test.name, c.test.steps as unknown[]])).toEqual([
      ['flat', steps],
      ['wrapped', steps],
    ])
    expect(calls[0]).toMatchObject({ files: { 'index.html': page.html }, backendCode: code })
  }, 30_000)

  test('without frontendCode browser cases are skipped as before, and the browser is not asked', async () => {
    const before = browser.calls.length
    const { body } = await run({ testCases: cases })
    expect(brief(body.results)).toEqual([
      ['adds', 'pass'],
      ['flat', 'skip'],
      ['wrapped', 'skip'],
    ])
    expect(body.results[1].message).toContain('frontend_interactive test is not run by the Python runner')
    expect(browser.calls.length).toBe(before)
  }, 30_000)

  test('a client browser test outside the step language is an error of that test; the browser never sees it', async () => {
    const before = browser.calls.length
    const bad = [
      { name: 'bad', type: 'frontend_interactive', steps: [{ action: 'evaluate', code: 'fetch("http://x")' }] },
      { name: 'none', type: 'frontend_interactive' },
    ]
    const { body } = await run({ testCases: bad, frontendCode: page })
    expect(body.results.map((r: { status: string; reason: string }) => [r.status, r.reason])).toEqual([
      ['error', 'invalid_test'],
      ['error', 'invalid_test'],
    ])
    expect(body.results[0].message).toContain('The browser test is malformed')
    expect(browser.calls.length).toBe(before)
  })

  test('a bad page is a 400 before anything runs', async () => {
    const { status, body } = await run({ testCases: cases, frontendCode: ['not', 'files'] })
    expect({ status, type: body.error_type }).toEqual({ status: 400, type: 'validation_error' })
  })

  test("a task's private browser tests run too, answered with status and the fixed message only", async () => {
    const frontend = diskTests('tic-tac-toe', 'frontend')
    const hidden = frontend.find((t) => t.public === false)!
    const { body } = await run({
      task: 'tic-tac-toe',
      include_private: true,
      backendCode: solution('tic-tac-toe'),
      frontendCode: frontEnd('tic-tac-toe', 'reference'),
    })
    const result = body.results.find((r: { testName: string }) => r.testName === hidden.name)
    expect(result).toEqual({
      testName: hidden.name,
      status: 'pass',
      message: 'Hidden test passed',
      expected: null,
      actual: null,
      duration_ms: expect.any(Number),
      private: true,
    })
    const open = body.results.find((r: { testName: string }) => r.testName === frontend[0]!.name)
    expect(open.steps.length).toBe(frontend[0]!.steps!.length)
    // The browser got the private test's steps from the task; the client never sent or saw them.
    expect(browser.calls.find((c) => c.test.name === hidden.name)!.test.steps as unknown[]).toEqual(hidden.steps!)
  }, 60_000)

  test('streams browser results as events too, also when a batch has only browser tests', async () => {
    const { events } = await postEvents(app, '/api/execute-test-cases', {
      backendCode: code,
      frontendCode: page,
      testCases: [cases[1], { ...cases[2], name: 'this one fails' }],
    })
    // Results come as they finish; the summary last.
    expect(events.map((e) => e.event)).toEqual(['result', 'result', 'summary'])
    expect(
      events
        .slice(0, 2)
        .map((e) => e.data.testName)
        .sort(),
    ).toEqual(['flat', 'this one fails'])
    expect(events.find((e) => e.data.testName === 'this one fails')!.data).toMatchObject({
      status: 'fail',
      screenshot: 'data:image/png;base64,SHOT',
    })
    expect(events[2]!.data.summary).toEqual({ total: 2, passed: 1, failed: 1, errors: 0, skipped: 0 })
  })
})
