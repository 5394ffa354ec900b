/**
 * The runner as a service: without Chromium it skips every test and says why (the app runs on); with it, one warm
 * browser that comes back after it dies, a queue of at most BROWSER_CONCURRENCY tests, cancellation, /health,
 * screenshots for the judge, and nothing left after close.
 */
import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { get } from '../support/http'
import { testApp } from '../support/app'
import { CHROMIUM, named, page, processesOfUids, realRunner, skipReason, steps } from './helpers'

const passing = steps([{ assert: 'elementText', selector: '#result', expected: 'ok' }])
const files = page('<p id="result">ok</p>')

/** Until no slot is busy: a test's slot is held until its page has been reset for the next one, after its answer. */
async function idle(runner: ReturnType<typeof realRunner>['runner']) {
  while ((await runner.health()).browser?.active !== 0) await Bun.sleep(10)
}

describe('without Chromium', () => {
  const app = testApp({ real: ['browser'], config: { BROWSER_PATH: '/nonexistent/chromium' } })
  const { browser } = app.decorator.services

  test('tests and screenshots are skipped as browser_unavailable, and /health says why with the check still ok', async () => {
    expect(browser.available()).toBe(false)
    const result = await browser.runTest({ test: passing, files, client: 'tests' })
    expect(result).toEqual({
      status: 'skip',
      reason: 'browser_unavailable',
      message: 'No browser at /nonexistent/chromium (install chromium, or set BROWSER_PATH)',
      steps: [],
      durationMs: 0,
    })
    expect(await browser.screenshot({ files, client: 'tests' })).toEqual({
      error: 'No browser at /nonexistent/chromium (install chromium, or set BROWSER_PATH)',
      reason: 'browser_unavailable',
    })
    const { body } = await get(app, '/health')
    // ok: a missing browser leaves the server whole (no provider keys here make the status degraded anyway).
    expect(body.checks.browser).toMatchObject({ ok: true, found: false, version: null, running: false })
  })
})

describe.skipIf(skipReason !== null)(named('with Chromium'), () => {
  const { runner, uidBase, close } = realRunner({ BROWSER_CONCURRENCY: '1' })

  test('/health reports the installed version before any test, and running once the warm browser is up', async () => {
    await runner.warmUp!() // the version is read after the server listens; /health says warming_up until then
    const before = (await runner.health()).browser!
    expect(before).toMatchObject({ ok: true, found: true, running: false, concurrency: 1 })
    expect(before.version).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
    expect((await runner.runTest({ test: passing, files, client: 'tests' })).status).toBe('pass')
    expect((await runner.health()).browser).toMatchObject({ ok: true, running: true, version: before.version })
  }, 120_000)

  test('at most BROWSER_CONCURRENCY tests run at once; the others wait, and a cancelled one leaves the queue', async () => {
    await idle(runner)
    const cancel = new AbortController()
    const runs = [
      runner.runTest({ test: passing, files, client: 'a' }),
      runner.runTest({ test: passing, files, client: 'b', signal: cancel.signal }),
      runner.runTest({ test: passing, files, client: 'c' }),
    ]
    expect((await runner.health()).browser).toMatchObject({ active: 1, waiting: 2 })
    cancel.abort()
    const [first, cancelled, third] = await Promise.all(runs)
    expect(first!.status).toBe('pass')
    expect(cancelled).toMatchObject({ status: 'error', reason: 'cancelled', steps: [{ status: 'skip' }] })
    expect(third!.status).toBe('pass')
    expect((await runner.health()).browser).toMatchObject({ waiting: 0 })
    await idle(runner)
  }, 120_000)

  test('a browser that dies is started again for the next test', async () => {
    expect((await runner.runTest({ test: passing, files, client: 'tests' })).status).toBe('pass')
    const browserPids = processesOfUids(uidBase).filter((pid) => {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      return argv[0] === CHROMIUM && !argv.some((arg) => arg.startsWith('--type='))
    })
    expect(browserPids.length).toBe(1)
    process.kill(browserPids[0]!, 'SIGKILL')
    // Right after the kill: the runner may not have noticed yet; the test still gets a new browser.
    expect(await runner.runTest({ test: passing, files, client: 'tests' })).toMatchObject({ status: 'pass' })
    expect(await runner.runTest({ test: passing, files, client: 'tests' })).toMatchObject({ status: 'pass' })
  }, 120_000)

  test('screenshot() gives the loaded page as a PNG data URL', async () => {
    const shot = await runner.screenshot({ files: page('<h1 style="color: teal">Title</h1>'), client: 'tests' })
    expect('dataUrl' in shot && shot.dataUrl).toStartWith('data:image/png;base64,iVBOR')
  }, 120_000)

  test('screenshot() after steps shows the state they reach; a step that fails says so instead', async () => {
    const counter = page(
      '<button id="b" style="font-size: 80px">0</button>',
      "b.onclick = () => { b.textContent = '7' }",
    )
    const loaded = await runner.screenshot({ files: counter, client: 'tests' })
    const clicked = await runner.screenshot({
      files: counter,
      steps: [{ action: 'click', selector: '#b' }],
      client: 'tests',
    })
    const again = await runner.screenshot({ files: counter, client: 'tests' })
    expect('dataUrl' in clicked && clicked.dataUrl).toStartWith('data:image/png;base64,')
    expect(clicked).not.toEqual(loaded)
    expect(again).toEqual(loaded)
    const failing = await runner.screenshot({
      files: counter,
      steps: [{ assert: 'elementText', selector: '#b', expected: '9' }],
      client: 'tests',
    })
    expect(failing).toEqual({ error: expect.stringContaining('Step 1 failed: elementText #b'), reason: 'steps_failed' })
  }, 120_000)

  test('after close no process is left and tests are skipped', async () => {
    // close() resolves once every process of the browser has ended (launch.ts says how).
    await close()
    // What is left, by command line (a pid alone says nothing once the run is over).
    const left = processesOfUids(uidBase).map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').slice(0, 200)
      } catch {
        return `${pid} (gone meanwhile)`
      }
    })
    expect(left).toEqual([])
    expect(await runner.runTest({ test: passing, files, client: 'tests' })).toMatchObject({
      status: 'skip',
      reason: 'browser_unavailable',
    })
  }, 120_000)
})

describe.skipIf(skipReason !== null)(named('on a host without writable cgroups'), () => {
  const { runner } = realRunner({}, { cgroups: false })

  test("the browser starts, its many threads within the sandbox's process rlimit", async () => {
    // The rlimit once took the default sandbox limit (tens of processes) whatever the caller asked: Chromium
    // could not start its threads and every test timed out.
    expect(await runner.runTest({ test: passing, files, client: 'tests' })).toMatchObject({ status: 'pass' })
  }, 120_000)
})
