/**
 * What the page finds around it: the learner's files from one origin, the test's mocks (a sequence, a delay),
 * the learner's own backend with its module state kept across the calls of one test (and fresh for the next),
 * localStorage and cookies set before the page loads, and a 404 for anything else of that origin.
 */
import { describe, expect, test } from 'bun:test'
import { named, page, realRunner, skipReason, steps } from './helpers'

const { runner } = realRunner()

/**
 * A page whose button calls `path` and shows what came back (status and body), each answer in the place of its
 * click: clicks come faster than a delayed answer, and answers to calls in flight together may arrive in any order.
 */
const caller = (path: string, method = 'POST') =>
  page(
    `<button id="go">go</button><ol id="out"></ol>`,
    `let clicks = 0
     document.getElementById('go').addEventListener('click', async () => {
       const n = ++clicks
       const response = await fetch(${JSON.stringify(path)}, { method: ${JSON.stringify(method)},
         headers: { 'content-type': 'application/json' }, ${method === 'GET' ? '' : 'body: JSON.stringify({ step: 1 })'} })
       const item = document.createElement('li')
       item.dataset.n = n
       item.textContent = response.status + ' ' + (await response.text())
       const out = document.getElementById('out')
       out.insertBefore(item, [...out.children].find((other) => Number(other.dataset.n) > n) ?? null)
     })`,
  )

const clicks = (count: number) => Array.from({ length: count }, () => ({ action: 'click' as const, selector: '#go' }))
const shown = (index: number, expected: string) => ({
  assert: 'elementText' as const,
  selector: `#out li:nth-child(${index})`,
  expected,
})

const COUNTER = `
count = 0

@endpoint('/count', methods=['POST'])
def count_up(step):
    global count
    count += step
    return {'count': count}
`

describe.skipIf(skipReason !== null)(named('the page'), () => {
  test("the learner's backend answers the page, keeping module state across the calls of one test", async () => {
    const test = steps(
      [1, 2, 3].flatMap((count) => [...clicks(1), shown(count, `200 {"result": {"count": ${count}}}`)]),
    )
    const first = await runner.runTest({ test, files: caller('/count'), backendCode: COUNTER, client: 'tests' })
    expect(first.message).toBe('All 6 steps passed')
    // The next test gets a backend of its own: the count starts again.
    const second = await runner.runTest({ test, files: caller('/count'), backendCode: COUNTER, client: 'tests' })
    expect(second.status).toBe('pass')
  }, 120_000)

  test('an assertion waits for the answer of a slow backend (longer than its retry window), within the step limit', async () => {
    // 2.5 s in the endpoint stands for a cold backend start on a busy host; assertions alone retry for 1.5 s.
    const slow =
      "import time\n\n@endpoint('/slow', methods=['POST'])\ndef slow(step):\n    time.sleep(2.5)\n    return step\n"
    const result = await runner.runTest({
      test: steps([...clicks(1), shown(1, '200 {"result": 1}')]),
      files: caller('/slow'),
      backendCode: slow,
      client: 'tests',
    })
    expect(result.message).toBe('All 2 steps passed')
  }, 120_000)

  test("a backend that does not start answers 502 with its error, and an unknown endpoint the backend's 404", async () => {
    const broken = await runner.runTest({
      test: steps([
        ...clicks(1),
        { assert: 'elementTextContains', selector: '#out li', expected: 'ZeroDivisionError' },
      ]),
      files: caller('/count'),
      backendCode: '1 / 0',
      client: 'tests',
    })
    expect(broken.message).toBe('All 2 steps passed')
    const unknown = await runner.runTest({
      test: steps([
        ...clicks(1),
        {
          assert: 'elementTextContains',
          selector: '#out li',
          expected: '404 {"error": "No endpoint /other; have: /count"}',
        },
      ]),
      files: caller('/other'),
      backendCode: COUNTER,
      client: 'tests',
    })
    expect(unknown.message).toBe('All 2 steps passed')
  }, 120_000)

  test('mocks answer instead of the backend: a sequence in order (the last repeats), after their delay', async () => {
    const result = await runner.runTest({
      test: steps([...clicks(3), shown(1, '200 {"turn":"X"}'), shown(2, '409 "taken"'), shown(3, '409 "taken"')], {
        mocks: [
          {
            endpoint: '/count',
            method: 'POST',
            delay: 200,
            sequence: [{ body: { turn: 'X' } }, { status: 409, body: '"taken"' }],
          },
        ],
      }),
      files: caller('/count'),
      backendCode: COUNTER,
      client: 'tests',
    })
    expect(result.message).toBe('All 6 steps passed')
  }, 120_000)

  test("a mock's delay holds the answer back: the page shows nothing before it", async () => {
    const result = await runner.runTest({
      test: steps([...clicks(1), { assert: 'elementCount', selector: '#out li', expected: 1 }], {
        mocks: [{ endpoint: '/slow', response: { ok: true }, delay: 4000 }],
      }),
      files: caller('/slow', 'GET'),
      client: 'tests',
    })
    // Assertions are retried for a moment (steps.ts), far less than the delay.
    expect(result.status).toBe('fail')
    expect(result.steps[1]).toMatchObject({ status: 'fail', expected: 1, actual: 0 })
  }, 120_000)

  test('without a backend or a mock, a request of the page gets a 404; other origins are blocked', async () => {
    const result = await runner.runTest({
      test: steps([...clicks(1), shown(1, '404 Not found: /count')]),
      files: {
        ...caller('/count'),
        'other.js': `fetch('https://example.com/').then(() => document.title = 'reached', () => document.title = 'blocked')`,
        'index.html': caller('/count')['index.html']!.replace('</body>', '<script src="other.js"></script></body>'),
      },
      client: 'tests',
    })
    expect(result.message).toBe('All 2 steps passed')
  }, 120_000)

  test('localStorage and cookies are set before the page loads', async () => {
    const files = page(
      '<p id="saved"></p><p id="cookie"></p>',
      `document.getElementById('saved').textContent = localStorage.getItem('todos')
       document.getElementById('cookie').textContent = document.cookie`,
    )
    const result = await runner.runTest({
      test: steps(
        [
          { assert: 'elementText', selector: '#saved', expected: '["milk"]' },
          { assert: 'elementText', selector: '#cookie', expected: 'theme=dark' },
        ],
        { localStorage: { todos: '["milk"]' }, cookies: [{ name: 'theme', value: 'dark' }] },
      ),
      files,
      client: 'tests',
    })
    expect(result.message).toBe('All 2 steps passed')
  }, 120_000)

  test('the files of { html, css, js } are served as index.html, style.css and script.js', async () => {
    const { normalizeFrontendCode } = await import('../../src/browser')
    const files = normalizeFrontendCode({
      html: '<link rel="stylesheet" href="style.css"><p id="p">text</p><script src="script.js"></script>',
      css: '#p { font-weight: 700 }',
      js: "document.getElementById('p').textContent = 'from script'",
    })
    const result = await runner.runTest({
      test: steps([
        { assert: 'elementText', selector: '#p', expected: 'from script' },
        { assert: 'elementCSS', selector: '#p', property: 'font-weight', expected: '700' },
      ]),
      files,
      client: 'tests',
    })
    expect(result.message).toBe('All 2 steps passed')
  }, 120_000)
})
