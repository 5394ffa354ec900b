/**
 * A class grading at once never grades a correct solution as failing: 30 learners, each with a key of their own,
 * send the reference front end of Tic Tac Toe and its solution.py in one wave, with the default limits. The host
 * is as loaded as 30 gradings make it (2 browser slots, every core busy for tens of seconds on a small host);
 * waiting for a slot does not count against a grading's time, and a step's limit is about the page. Every one of
 * the 30 gradings must come back with every endpoint and browser test passed.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { closeServices, createApp } from '../../src/app'
import { testConfig } from '../support/config'
import { post } from '../support/http'
import { SAMPLE_TASKS } from '../tasks/fixture'
import { frontEnd, solution } from './disk'

const LEARNERS = 30
const key = (index: number) => `class-load-key-${index}-${'x'.repeat(12)}`
const config = testConfig({
  TASKS_DIR: SAMPLE_TASKS,
  API_KEYS: Array.from({ length: LEARNERS }, (_, index) => `learner-${index}:${key(index)}`).join(','),
})
const app = createApp({ config })
afterAll(() => closeServices(app.decorator.services))

const noBrowser = !existsSync(config.BROWSER_PATH)
const body = {
  task: 'tic-tac-toe',
  include_private: true,
  save: false,
  backendCode: solution('tic-tac-toe'),
  frontendCode: frontEnd('tic-tac-toe', 'reference'),
}

describe.skipIf(noBrowser)(`a class of ${LEARNERS} grading at once`, () => {
  test('every correct solution is graded correct', async () => {
    const answers = await Promise.all(
      Array.from({ length: LEARNERS }, (_, index) =>
        post(app, '/api/grade', body, { authorization: `Bearer ${key(index)}` }),
      ),
    )
    const failures = answers.flatMap(({ status, body }, learner) =>
      status !== 200
        ? [`learner ${learner}: ${status} ${JSON.stringify(body).slice(0, 200)}`]
        : (body.results as { kind: string; testName: string; status: string; message: string }[])
            .filter((result) => result.kind !== 'judge' && result.status !== 'pass')
            .map((result) => `learner ${learner}: ${result.testName}: ${result.status} ${result.message}`),
    )
    expect(failures).toEqual([])
    const browserTests = answers[0]!.body.results.filter((r: { kind: string }) => r.kind === 'frontend_interactive')
    expect(browserTests.length).toBeGreaterThan(5)
  }, 600_000)
})
