/**
 * A correct page is never failed because the server was starved: a test that ran out of time while this process
 * stood still runs again (and is our error if that happens again), while a page that fails on its own still fails.
 */
import { describe, expect, test } from 'bun:test'
import { createStarvationMonitor } from '../../src/browser/starvation'
import { named, page, realRunner, skipReason, steps } from './helpers'

/** Keeps this process from running for `ms`, as an overloaded host would. */
const standStill = (ms: number) => {
  const until = performance.now() + ms
  while (performance.now() < until) {}
}

describe('the starvation monitor', () => {
  test('a stall of the process is seen; an ordinary wait is not', async () => {
    const monitor = createStarvationMonitor()
    const calm = monitor.watch()
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(calm.end().starved).toBe(false)
    const stalled = monitor.watch()
    standStill(1000)
    const seen = stalled.end()
    expect(seen.starved).toBe(true)
    expect(seen.lagMs).toBeGreaterThanOrEqual(900)
  })
})

let stallOnBackend = 0
const { runner } = realRunner(
  { BROWSER_STEP_TIMEOUT_MS: '6000', BROWSER_TEST_TIMEOUT_MS: '30000' },
  {
    onSpawn(program) {
      // The learner's backend starts on the page's first call, while the test waits for its answer (1.5 s away):
      // a moment later the server stands still for longer than the step's limit, so the answer can reach the
      // page only after the step's time is up.
      if (!program[0]!.includes('chrom') && stallOnBackend > 0) {
        stallOnBackend--
        setTimeout(() => standStill(7000), 300)
      }
    },
  },
)

const pinging = page(
  '<p id="out"></p>',
  `fetch('/ping').then((response) => response.json()).then((body) => {
     document.getElementById('out').textContent = body.result
   })`,
)
const backendCode = "import time\n\n@endpoint('/ping')\ndef ping():\n    time.sleep(1.5)\n    return 'pong'\n"

describe.skipIf(skipReason !== null)(named('tests on a starved server'), () => {
  test('a correct page whose step ran out of time while the server stood still passes on its second run', async () => {
    stallOnBackend = 1
    const result = await runner.runTest({
      test: steps([
        { action: 'wait', selector: '#out:not(:empty)' },
        { assert: 'elementText', selector: '#out', expected: 'pong' },
      ]),
      files: pinging,
      backendCode,
      client: 'tests',
    })
    expect(stallOnBackend).toBe(0)
    expect({ status: result.status, message: result.message }).toEqual({
      status: 'pass',
      message: 'All 2 steps passed',
    })
  }, 120_000)

  test('starved on both runs, the test is our error (harness_starved), not a failure of the page', async () => {
    stallOnBackend = 2
    const result = await runner.runTest({
      test: steps([{ action: 'wait', selector: '#out:not(:empty)' }]),
      files: pinging,
      backendCode,
      client: 'tests',
    })
    expect({ status: result.status, reason: result.reason }).toEqual({ status: 'error', reason: 'harness_starved' })
  }, 120_000)

  test('a page that fails on its own still fails, starved or not', async () => {
    stallOnBackend = 2
    const result = await runner.runTest({
      test: steps([{ assert: 'elementText', selector: '#out', expected: 'something else' }]),
      files: page('<p id="out">pong</p>'),
      client: 'tests',
    })
    expect(result.status).toBe('fail')
    stallOnBackend = 0
  }, 120_000)
})
