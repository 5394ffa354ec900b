/**
 * Hostile pages: each ends as a clear failure of its test within the test's time limit, reaches nothing outside
 * the browser (real loopback listeners record every hit), and the next test runs normally. When the runner is
 * closed no process of its sandboxes is left, and no temporary folder on the host.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrowserTestResult, FrontendFiles } from '../../src/browser'
import { named, page, processesOfUids, realRunner, recorder, skipReason, steps } from './helpers'

// Generous: a busy 2-core host runs these next to other suites; the limits still end every hostile page.
const TEST_TIMEOUT_MS = 20_000
const MAX_HEIGHT = 3000
const { runner, sandbox, uidBase, close } = realRunner({
  BROWSER_TEST_TIMEOUT_MS: String(TEST_TIMEOUT_MS),
  BROWSER_STEP_TIMEOUT_MS: '5000',
  BROWSER_MEMORY_MB: '1024',
  BROWSER_SCREENSHOT_MAX_HEIGHT: String(MAX_HEIGHT),
})
/** Why the memory test cannot run here (no cgroup, so no memory limit for the browser to hit), or null. */
const noCgroups = await sandbox
  .ready()
  .then(({ cgroups }) =>
    cgroups.kind === 'none'
      ? `a page allocating memory until it is killed [skipped: no writable cgroups here (${cgroups.reason}), so the browser has no memory limit to hit]`
      : null,
  )
const listener = recorder()
/** Stands for this server's own port: a page must not reach it either. */
const ownPort = recorder()

/**
 * A temporary folder of this file's own while its tests run, so that what the runner leaves on the host is told
 * apart from what other test runs on the same host are doing meanwhile.
 */
const ownTemp = mkdtempSync(join(tmpdir(), 'hostile-browser-'))
const hostTemp = process.env.TMPDIR
beforeAll(() => void (process.env.TMPDIR = ownTemp))

/** A test the hostile page can never pass: it expects text the page never shows. */
const expectsResult = steps([{ assert: 'elementText', selector: '#result', expected: 'ok' }])
const normal = page('<p id="result">ok</p>')

async function hostileThenNormal(files: FrontendFiles): Promise<BrowserTestResult> {
  const hostile = await runner.runTest({ test: expectsResult, files, client: 'tests' })
  expect(hostile.status).toBe('fail')
  expect(hostile.message).not.toBe('')
  // The runner's own limit ends the test (with room for closing the page), long before bun's.
  expect(hostile.durationMs).toBeLessThan(TEST_TIMEOUT_MS + 15_000)
  const next = await runner.runTest({ test: expectsResult, files: normal, client: 'tests' })
  expect(next.message).toBe('All 1 steps passed')
  return hostile
}

const pngHeight = (dataUrl: string) => Buffer.from(dataUrl.split(',')[1]!, 'base64').readUInt32BE(20)

describe.skipIf(skipReason !== null)(named('hostile pages'), () => {
  test('a page reaching for loopback ports, the server, link-local metadata and local files reaches nothing', async () => {
    const targets = [
      `http://127.0.0.1:${listener.port}/fetch`,
      `http://localhost:${ownPort.port}/own`,
      'http://169.254.169.254/latest/meta-data/',
    ]
    const files = page(
      `<link rel="prefetch" href="http://127.0.0.1:${listener.port}/prefetch">
       <img src="http://127.0.0.1:${listener.port}/img">
       <iframe src="file:///etc/passwd"></iframe>
       <p id="leak"></p><p id="done"></p>`,
      `const targets = ${JSON.stringify(targets)}
       navigator.sendBeacon('http://127.0.0.1:${listener.port}/beacon', 'x')
       try { new WebSocket('ws://127.0.0.1:${listener.port}/ws') } catch {}
       const attempts = [
         ...targets.map((url) => fetch(url, { mode: 'no-cors' })),
         ...targets.map((url) => fetch(url, { keepalive: true, method: 'POST', body: 'x', mode: 'no-cors' })),
         fetch('file:///etc/passwd').then((response) => response.text()).then((text) => { document.getElementById('leak').textContent = text }),
         new Promise((resolve) => { const xhr = new XMLHttpRequest(); xhr.onloadend = resolve; xhr.open('GET', targets[0]); xhr.send() }),
       ]
       Promise.allSettled(attempts).then(() => { document.getElementById('done').textContent = 'done' })`,
    )
    const result = await runner.runTest({
      test: steps([
        { action: 'wait', selector: '#done:not(:empty)' },
        { assert: 'elementText', selector: '#leak', expected: '' },
        { assert: 'elementText', selector: '#result', expected: 'ok' },
      ]),
      files,
      client: 'tests',
    })
    expect(result.steps.map((step) => step.status)).toEqual(['pass', 'pass', 'fail'])
    expect(listener.hits).toEqual([])
    expect(ownPort.hits).toEqual([])
    // The listeners do record what reaches them.
    await fetch(`http://127.0.0.1:${listener.port}/control`)
    expect(listener.hits).toEqual(['GET /control'])
    listener.hits.length = 0
    const next = await runner.runTest({ test: expectsResult, files: normal, client: 'tests' })
    expect(next.status).toBe('pass')
  }, 90_000)

  test('popups opened in a loop are closed, and the test fails on what it checks', async () => {
    const result = await hostileThenNormal(
      page(
        '<p id="result">no</p>',
        `setInterval(() => { for (let i = 0; i < 20; i++) window.open('/popup' + i) }, 10)`,
      ),
    )
    expect(result.steps[0]).toMatchObject({ status: 'fail', expected: 'ok', actual: 'no' })
  }, 90_000)

  test('an endless loop on load fails the test when its page does not load', async () => {
    const result = await hostileThenNormal(page('<p id="result">ok</p>', 'while (true) {}'))
    expect(result.reason).toMatch(/^(load_failed|timeout)$/)
  }, 90_000)

  test('alert() in a loop is dismissed every time and fails the test', async () => {
    const result = await hostileThenNormal(
      page('<p id="result">ok</p>', "while (true) { alert('hi'); confirm('sure?') }"),
    )
    expect(result.reason).toMatch(/^(load_failed|timeout)$/)
  }, 90_000)

  test('a 50,000 px page gives a screenshot capped in height', async () => {
    const result = await hostileThenNormal(
      page('<div style="height: 50000px; background: linear-gradient(red, blue)"></div><p id="result">no</p>'),
    )
    expect(result.screenshot).toStartWith('data:image/png;base64,')
    expect(pngHeight(result.screenshot!)).toBe(MAX_HEIGHT)
  }, 90_000)

  test('a page building a million DOM nodes fails within its limit', async () => {
    await hostileThenNormal(
      page(
        '<p id="result">no</p><div id="many"></div>',
        `const many = document.getElementById('many')
         for (let i = 0; i < 1000000; i++) many.appendChild(document.createElement('span')).textContent = i`,
      ),
    )
  }, 90_000)

  test.skipIf(noCgroups !== null)(
    noCgroups ?? 'a page allocating memory until it is killed fails, and the browser goes on',
    async () => {
      const result = await hostileThenNormal(
        page(
          '<p id="result">no</p>',
          'const hoard = []; for (;;) hoard.push(new Float64Array(1 << 20).fill(Math.random()))',
        ),
      )
      expect(result.reason).toMatch(/^(page_crashed|load_failed|timeout)$/)
    },
    120_000,
  )

  afterAll(async () => {
    // close() resolves once every process of the browser has ended (launch.ts says how).
    await close()
    expect(processesOfUids(uidBase)).toEqual([])
    expect(readdirSync(ownTemp)).toEqual([])
    if (hostTemp === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = hostTemp
    rmSync(ownTemp, { recursive: true, force: true })
  })
})
