/**
 * Limits of a run, reported as what they are: a batch has one time limit for all its cases and a cap on how many
 * it may hold; a call the server stops for time is a timeout naming the configured limit, never a crash.
 * Real routes and the real sandbox.
 */
import { describe, expect, test } from 'bun:test'
import { createLogger } from '../../src/logging'
import { createSandbox, type Sandbox } from '../../src/sandbox'
import { testApp } from '../support/app'
import { testConfig } from '../support/config'
import { post } from '../support/http'

/** `sandbox`, telling when its n-th box (warm or through bubblewrap) has started. */
function startsWatched(sandbox: Sandbox) {
  const { spawn, warm } = sandbox
  let count = 0
  const waiting: { n: number; wake: () => void }[] = []
  const counted = () => {
    count++
    for (const waiter of waiting.filter(({ n }) => n <= count)) {
      waiting.splice(waiting.indexOf(waiter), 1)
      waiter.wake()
    }
  }
  return Object.assign(sandbox, {
    spawn(...args: Parameters<Sandbox['spawn']>) {
      const box = spawn(...args)
      counted()
      return box
    },
    warm(...args: Parameters<Sandbox['warm']>) {
      const boxes = warm(...args)
      if (!boxes) return null
      return {
        ...boxes,
        spawn: (...limits: Parameters<typeof boxes.spawn>) =>
          boxes.spawn(...limits).then((box) => {
            counted()
            return box
          }),
      }
    },
    /** Resolves once `n` boxes have started. */
    started: (n: number) => new Promise<void>((wake) => (count >= n ? wake() : waiting.push({ n, wake }))),
  })
}

describe('batches', () => {
  test('more cases than EXEC_MAX_CASES is a 413 too_many_cases before anything runs', async () => {
    const app = testApp({ config: { EXEC_MAX_CASES: '3' } }) // the runner is inert: nothing may reach it
    const testCases = Array.from({ length: 4 }, (_, i) => ({ name: `c${i}`, endpoint: '/f', expected: 1 }))
    for (const accept of ['application/json', 'text/event-stream']) {
      const { status, body } = await post(
        app,
        '/api/execute-test-cases',
        { backendCode: 'x = 1', testCases },
        { accept },
      )
      expect(status).toBe(413)
      expect(body).toMatchObject({ success: false, error_type: 'too_many_cases' })
      expect(body.error).toContain('the limit is 3')
    }
  })

  test('a batch has one time limit: cases it did not reach are reported as timeout, none is lost', async () => {
    const app = testApp({
      real: ['runner'],
      config: { EXEC_TIMEOUT_MS: '1000', EXEC_BATCH_TIMEOUT_MS: '1500', EXEC_TEST_PARALLELISM: '1' },
    })
    // Four cases of 0.7 s one after the other need 2.8 s; the batch has at most 2 s (a case's limit plus grace).
    const backendCode = '@endpoint\ndef f():\n    import time\n    time.sleep(0.7)\n    return 1'
    const testCases = Array.from({ length: 4 }, (_, i) => ({ name: `c${i}`, endpoint: '/f', expected: 1 }))
    const { body } = await post(app, '/api/execute-test-cases', { backendCode, testCases })
    expect(body.results.map((r: any) => r.testName)).toEqual(['c0', 'c1', 'c2', 'c3'])
    const outOfTime = body.results.filter((r: any) => r.status !== 'pass')
    expect(outOfTime.length).toBeGreaterThan(0)
    for (const result of outOfTime) {
      expect(result).toMatchObject({ status: 'error', error_type: 'timeout' })
      expect(result.message).toContain('the batch ran out of time')
    }
  })
})

describe('time limits', () => {
  test('a call that spins in a warm sandbox is a timeout naming EXEC_TIMEOUT_MS, not a crash', async () => {
    const config = { EXEC_TIMEOUT_MS: '2000', EXEC_POOL_SIZE: '1' }
    const sandbox = startsWatched(createSandbox({ config: testConfig(config), logger: createLogger('silent') }))
    const app = testApp({ real: ['runner'], config, sandbox })
    const pythonCode = '@endpoint\ndef spin():\n    while True:\n        pass\n@endpoint\ndef warm():\n    return 1'
    expect((await post(app, '/api/execute-endpoint', { pythonCode, endpoint: '/warm' })).body.result).toBe(1)
    // A pooled sandbox has used its start-up CPU before the wall clock starts: the race the CPU limit used to win.
    // The call took the first pooled one; the second is its refill, started after it.
    await sandbox.started(2)
    const { body } = await post(app, '/api/execute-endpoint', { pythonCode, endpoint: '/spin' })
    expect(body).toMatchObject({ success: false, error_type: 'timeout', error: 'Time limit exceeded (2000 ms)' })
  })
})
