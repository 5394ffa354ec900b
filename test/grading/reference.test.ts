/**
 * The sample tasks' reference front ends (tasks/<slug>/reference/), graded for real: POST /api/grade with the
 * task's solution.py as backend runs every browser test in Chromium (inside the sandbox) against the reference
 * page, and every one passes; the starter page fails the tests of what the learner still has to build. No route
 * hands a reference front end out.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { closeServices, createApp } from '../../src/app'
import { testConfig } from '../support/config'
import { get, post } from '../support/http'
import { SAMPLE_TASKS } from '../tasks/fixture'
import { diskTests, frontEnd, solution } from './disk'

// These tests prove the pages right, not fast: limits far above a test's need (about 1 s even on 2 busy cores)
// keep a loaded machine from turning a slow test into a failed one.
const config = testConfig({
  TASKS_DIR: SAMPLE_TASKS,
  BROWSER_TEST_TIMEOUT_MS: '60000',
  BROWSER_STEP_TIMEOUT_MS: '10000',
  GRADE_TIMEOUT_MS: '280000',
})
const app = createApp({ config })
afterAll(() => closeServices(app.decorator.services))

// Without Chromium the browser tests are skipped (see the "without a browser" test in ./grade.test.ts).
const noBrowser = !existsSync(config.BROWSER_PATH)

/** What the starter front end still lacks: the browser tests it fails, by task. */
const STARTER_FAILS: Record<string, string[]> = {
  'tic-tac-toe': [
    'Clicking a cell places X',
    'Players take turns',
    'A taken cell cannot be played again',
    'Three in a row wins',
    'The winning line is highlighted',
    'The page announces a draw',
  ],
  'calculator-app': [
    'Digits appear on the display',
    'Adding on the keypad',
    'The keypad respects precedence',
    'Division by zero shows an error',
  ],
  'todo-list-app': [
    'Adding a todo shows it in the list',
    'Checking a todo marks it done',
    'The counter counts open todos',
    'Deleting removes the todo',
    'The active filter hides done todos',
  ],
}

const grade = (slug: string, folder: 'starter' | 'reference') =>
  post(app, '/api/grade', {
    task: slug,
    include_private: true,
    backendCode: solution(slug),
    frontendCode: frontEnd(slug, folder),
  })

const statuses = (results: { testName: string; status: string; kind: string }[]) =>
  results.filter((r) => r.kind === 'frontend_interactive').map((r) => [r.testName, r.status])

describe.each(Object.keys(STARTER_FAILS))('%s', (slug) => {
  const browserTests = diskTests(slug, 'frontend')

  test.skipIf(noBrowser)(
    'the reference front end passes every browser test, with solution.py as backend',
    async () => {
      const { status, body } = await grade(slug, 'reference')
      expect(status).toBe(200)
      expect(statuses(body.results)).toEqual(browserTests.map((t) => [t.name, 'pass']))
      expect(body.groups.frontend).toEqual({
        total: browserTests.length,
        passed: browserTests.length,
        failed: 0,
        errors: 0,
        skipped: 0,
      })
      expect(body.groups.backend.passed).toBe(body.groups.backend.total)
    },
    300_000,
  )

  test.skipIf(noBrowser)(
    'the starter front end fails the browser tests of what is left to build',
    async () => {
      const { body } = await grade(slug, 'starter')
      const failed = statuses(body.results)
        .filter(([, status]) => status !== 'pass')
        .map(([name]) => name)
      expect(failed).toEqual(STARTER_FAILS[slug]!)
      expect(body.success).toBe(false)
    },
    300_000,
  )

  test('no route serves the reference front end', async () => {
    for (const file of ['index.html', 'style.css', 'script.js']) {
      const { status } = await get(app, `/assets/${slug}/reference/${file}`)
      expect(status).toBe(404)
    }
    const detail = await get(app, `/tasks/${slug}`)
    const script = frontEnd(slug, 'reference')['script.js']!
    expect(JSON.stringify(detail.body)).not.toContain(script.split('\n')[0]!)
  })
})

test.skipIf(noBrowser)(
  'execute-test-cases runs a task browser test in Chromium when given the page',
  async () => {
    const name = 'Three in a row wins'
    const { body } = await post(app, '/api/execute-test-cases', {
      task: 'tic-tac-toe',
      tests: [name],
      backendCode: solution('tic-tac-toe'),
      frontendCode: frontEnd('tic-tac-toe', 'reference'),
    })
    expect(body.results).toEqual([
      {
        testName: name,
        status: 'pass',
        message: expect.any(String),
        expected: null,
        actual: null,
        duration_ms: expect.any(Number),
        steps: diskTests('tic-tac-toe', 'frontend')
          .find((t) => t.name === name)!
          .steps!.map((step, index) =>
            expect.objectContaining({
              index,
              kind: (step as { action?: string; assert?: string }).action ?? (step as { assert: string }).assert,
              status: 'pass',
            }),
          ),
      },
    ])
  },
  60_000,
)
