/**
 * One page must not sink the others: pages that flood what they send through DevTools (console, request bodies)
 * fail alone, or not at all, while a neighbour's test runs beside them on the same browser and passes; the
 * server's memory stays bounded meanwhile; and a test whose browser ends under it (a neighbour's doing) runs again
 * on a browser of its own instead of failing.
 */
import { beforeEach, describe, expect, test } from 'bun:test'
import { readFileSync, writeFileSync } from 'node:fs'
import type { BrowserTestResult } from '../../src/browser'
import type { Boxed } from '../../src/sandbox'
import { CHROMIUM, named, page, realRunner, skipReason, steps } from './helpers'

/** Called when the runner starts a learner's backend (its Python program) in the sandbox. */
let backendStarted: (() => void) | null = null
const browsers: Boxed[] = []
const { runner } = realRunner(
  // Generous: the hostile pages' own work (serializing tens of megabytes) takes seconds, more on a busy host.
  { BROWSER_CONCURRENCY: '2', BROWSER_TEST_TIMEOUT_MS: '90000', BROWSER_STEP_TIMEOUT_MS: '60000' },
  {
    onSpawn(program, box) {
      if (program[0] === CHROMIUM) browsers.push(box)
      else backendStarted?.()
    },
  },
)
beforeEach(() => {
  backendStarted = null
})

/** A page that shows "done" in #out once its script has run. */
const finishing = (script: string) =>
  page('<p id="out"></p>', `${script}\ndocument.getElementById('out').textContent = 'done'`)
const showsDone = steps([{ assert: 'elementText', selector: '#out', expected: 'done' }])

/** A neighbour's test that needs a few seconds of the browser: it runs beside the hostile page. */
const victim = () =>
  runner.runTest({
    test: steps([
      { action: 'wait', selector: '#late:not(:empty)' },
      { assert: 'elementText', selector: '#late', expected: 'later' },
    ]),
    files: page(
      '<p id="late"></p>',
      "setTimeout(() => { document.getElementById('late').textContent = 'later' }, 3000)",
    ),
    client: 'neighbour',
  })

/** Peak resident memory of this process since the last reset, in MB (Linux keeps the high-water mark). */
const peakRssMb = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024
const resetPeakRss = () => writeFileSync('/proc/self/clear_refs', '5')

const passed = (result: BrowserTestResult) => ({ status: result.status, message: result.message })

describe.skipIf(skipReason !== null)(named('neighbours on one browser'), () => {
  test('a 70 MB console message fails nothing: the page goes on, and so does its neighbour', async () => {
    const [hostile, neighbour] = await Promise.all([
      runner.runTest({ test: showsDone, files: finishing("console.log('x'.repeat(7e7))"), client: 'hostile' }),
      victim(),
    ])
    expect(passed(hostile)).toEqual({ status: 'pass', message: 'All 1 steps passed' })
    expect(passed(neighbour)).toEqual({ status: 'pass', message: 'All 2 steps passed' })
    // /health says what the bridge dropped.
    const { devtools } = (await runner.health()).browser as unknown as { devtools: { dropped: number } }
    expect(devtools.dropped).toBeGreaterThanOrEqual(1)
  }, 240_000)

  test('twelve 30 MB console messages leave the server within 250 MB more memory', async () => {
    Bun.gc(true)
    resetPeakRss()
    const before = peakRssMb()
    const result = await runner.runTest({
      test: showsDone,
      files: finishing("const big = 'y'.repeat(3e7)\nfor (let i = 0; i < 12; i++) console.log(big + i)"),
      client: 'hostile',
    })
    expect(passed(result)).toEqual({ status: 'pass', message: 'All 1 steps passed' })
    expect(peakRssMb() - before).toBeLessThan(250)
  }, 240_000)

  test("a 70 MB request body to the page's backend is answered 413, and the neighbour passes", async () => {
    const [hostile, neighbour] = await Promise.all([
      runner.runTest({
        test: steps([
          { action: 'wait', selector: '#out:not(:empty)' },
          { assert: 'elementText', selector: '#out', expected: '413' },
        ]),
        files: page(
          '<p id="out"></p>',
          `fetch('/api/echo', { method: 'POST', body: 'x'.repeat(7e7) })
             .then((response) => { document.getElementById('out').textContent = String(response.status) },
                   (error) => { document.getElementById('out').textContent = 'failed: ' + error })`,
        ),
        backendCode: "@endpoint('/api/echo', methods=['POST'])\ndef echo():\n    return 'ok'\n",
        client: 'hostile',
      }),
      victim(),
    ])
    expect(passed(hostile)).toEqual({ status: 'pass', message: 'All 2 steps passed' })
    expect(passed(neighbour)).toEqual({ status: 'pass', message: 'All 2 steps passed' })
  }, 240_000)

  test('a test whose browser is killed under it runs again on a browser of its own, and passes', async () => {
    // The page asks its backend once it has loaded; the moment the backend starts, the browser is killed, as a
    // neighbour's page that takes the browser down would have it.
    let killed = 0
    backendStarted = () => {
      if (killed++ === 0) browsers.at(-1)!.proc.kill('SIGKILL')
    }
    const result = await runner.runTest({
      test: steps([
        { action: 'wait', selector: '#out:not(:empty)' },
        { assert: 'elementText', selector: '#out', expected: 'pong' },
      ]),
      files: page(
        '<p id="out"></p>',
        `fetch('/ping').then((response) => response.json()).then((body) => {
           document.getElementById('out').textContent = body.result
         })`,
      ),
      backendCode: "import time\n\n@endpoint('/ping')\ndef ping():\n    time.sleep(1)\n    return 'pong'\n",
      client: 'victim',
    })
    expect(killed).toBe(2) // the first run's backend, then the second run's
    expect(passed(result)).toEqual({ status: 'pass', message: 'All 2 steps passed' })
    // The shared browser comes back for the next test.
    expect(passed(await victim())).toEqual({ status: 'pass', message: 'All 2 steps passed' })
  }, 240_000)
})
