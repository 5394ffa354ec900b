/**
 * Every backend test of every sample task passes against the task's reference solution, run by the real
 * runner through POST /api/execute-test-cases (each case in fresh module state, as learners' code runs).
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { readFileSync, realpathSync } from 'node:fs'
import { join } from 'node:path'
import { closeServices, createApp } from '../../src/app'
import { loadTasks } from '../../src/tasks/loader'
import { testConfig } from '../support/config'
import { post } from '../support/http'
import { SAMPLE_TASKS } from './fixture'

const { tasks } = await loadTasks(realpathSync(SAMPLE_TASKS))
const app = createApp({ config: testConfig({ TASKS_DIR: SAMPLE_TASKS }) })
afterAll(() => closeServices(app.decorator.services))

describe.each(tasks.map((task) => [task.name, task] as const))('%s', (_, task) => {
  test('the reference solution passes every backend test', async () => {
    const testCases = task.tests.filter((t) => t.title.startsWith('Backend: '))
    const backendCode = readFileSync(join(task.dir, 'solution.py'), 'utf8')
    const { status, body } = await post(app, '/api/execute-test-cases', { testCases, backendCode })
    expect(status).toBe(200)
    const failing = body.results.filter((r: { status: string }) => r.status !== 'pass')
    expect(failing).toEqual([])
    expect(body.summary).toEqual({
      total: testCases.length,
      passed: testCases.length,
      failed: 0,
      errors: 0,
      skipped: 0,
    })
  }, 60_000)
})
