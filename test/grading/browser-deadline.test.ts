/**
 * A request's own browser tests (client-written, in execute-test-cases) have EXEC_BATCH_TIMEOUT_MS in all: pages
 * that never finish end as timeout errors of this batch, in time, instead of holding browser slots for minutes;
 * tests that finished keep their results.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import type { InteractiveTest } from '../../src/browser'
import { closeServices, createApp } from '../../src/app'
import { testConfig } from '../support/config'
import { post } from '../support/http'
import { fakeBrowser, hangs, passed } from './fake-browser'

const BATCH_MS = 400
const browser = fakeBrowser({
  answer: (test: InteractiveTest, signal?: AbortSignal) => (test.name === 'quick' ? passed(test) : hangs(test, signal)),
})
const app = createApp({ config: testConfig({ EXEC_BATCH_TIMEOUT_MS: String(BATCH_MS) }), browser })
afterAll(() => closeServices(app.decorator.services))

const steps = [{ assert: 'elementText', selector: '#a', expected: 'a' }]

describe("a request's browser tests have a deadline", () => {
  test('pages that never finish are timeout errors once EXEC_BATCH_TIMEOUT_MS has passed; the rest keep their results', async () => {
    const started = performance.now()
    const { status, body } = await post(app, '/api/execute-test-cases', {
      backendCode: '@endpoint\ndef f():\n    return 1',
      frontendCode: { html: '<p id="a">a</p>' },
      testCases: [
        { name: 'quick', type: 'frontend_interactive', steps },
        ...Array.from({ length: 20 }, (_, index) => ({ name: `slow ${index}`, type: 'frontend_interactive', steps })),
      ],
    })
    expect(performance.now() - started).toBeLessThan(BATCH_MS + 2000)
    expect(status).toBe(200)
    expect(body.results[0]).toMatchObject({ testName: 'quick', status: 'pass' })
    expect(
      body.results.slice(1).map(({ status, reason, message }: Record<string, string>) => ({ status, reason, message })),
    ).toEqual(
      Array.from({ length: 20 }, () => ({
        status: 'error',
        reason: 'timeout',
        message: `The batch's browser tests ran out of time (${BATCH_MS} ms) before this test finished`,
      })),
    )
    expect(body.summary).toMatchObject({ total: 21, passed: 1, errors: 20 })
  })
})
