/**
 * The step language in a real headless Chromium: every action and assertion passes on a page that does what the
 * step expects, and fails, naming the selector, the expected and the actual value, on one that does not.
 */
import { describe, expect, test } from 'bun:test'
import type { BrowserTestResult, InteractiveTest } from '../../src/browser'
import { named, page, realRunner, skipReason, steps } from './helpers'

// Default step limit (5 s): a busy 2-core host can take over a second for a step that does succeed.
const { runner } = realRunner()

const files = page(
  `<input id="name" value="">
   <div id="greeting">Hello</div>
   <button id="add">Add</button>
   <ul id="list"></ul>
   <p id="late"></p>
   <span id="hidden" style="display:none">secret</span>
   <a id="link" href="/next" class="nav active">Next</a>
   <div id="box">box</div>`,
  `const list = document.getElementById('list')
   document.getElementById('add').addEventListener('click', () => {
     const item = document.createElement('li')
     item.textContent = document.getElementById('name').value
     list.appendChild(item)
   })
   document.getElementById('name').addEventListener('input', (event) => {
     document.getElementById('greeting').textContent = 'Hello ' + event.target.value
   })
   setTimeout(() => { document.getElementById('late').textContent = 'arrived' }, 100)`,
  '#box { color: red; margin-top: 12px }',
)

const run = (test: InteractiveTest) => runner.runTest({ test, files, client: 'tests' })

describe.skipIf(skipReason !== null)(named('the step language'), () => {
  test('every action and assertion passes on a page that does what it expects', async () => {
    const result = await run(
      steps([
        { action: 'input', selector: '#name', value: 'Ada' },
        { assert: 'elementText', selector: '#greeting', expected: 'Hello Ada' },
        { action: 'click', selector: '#add' },
        { action: 'set', selector: '#name', value: 'Bob' },
        { assert: 'elementValue', selector: '#name', expected: 'Bob' },
        { assert: 'elementTextContains', selector: '#greeting', expected: 'Bob' },
        { action: 'click', selector: '#add' },
        { assert: 'elementCount', selector: '#list li', expected: 2 },
        { assert: 'elementText', selector: '#list li', expected: 'Ada' },
        { action: 'wait', selector: '#late:not(:empty)' },
        { action: 'wait', duration: 10 },
        { assert: 'elementVisible', selector: '#greeting', expected: true },
        { assert: 'elementVisible', selector: '#hidden', expected: false },
        { assert: 'elementExists', selector: '#hidden', expected: true },
        { assert: 'elementExists', selector: '#missing', expected: false },
        { assert: 'elementAttribute', selector: '#link', attribute: 'href', expected: '/next' },
        { assert: 'elementAttribute', selector: '#link', attribute: 'class', expected: 'active' },
        { assert: 'elementCSS', selector: '#box', property: 'color', expected: 'red' },
        { assert: 'elementCSS', selector: '#box', property: 'marginTop', expected: '12px' },
      ]),
    )
    expect(result.message).toBe('All 19 steps passed')
    expect(result.status).toBe('pass')
    expect(result.steps.map((step) => step.status)).toEqual(Array(19).fill('pass'))
    expect(result.screenshot).toBeUndefined()
  }, 120_000)

  /** [the failing step, what its result must say]: each as the second step, after one that passes. */
  const failures: [InteractiveTest['steps'][number], Partial<BrowserTestResult['steps'][number]>][] = [
    [
      { action: 'click', selector: '#nothing' },
      { kind: 'click', selector: '#nothing' },
    ],
    [
      { action: 'input', selector: '#greeting', value: 'x' },
      { kind: 'input', selector: '#greeting' },
    ],
    [
      { action: 'set', selector: '#nothing', value: 'x' },
      { kind: 'set', selector: '#nothing' },
    ],
    [
      { action: 'wait', selector: '#never' },
      { kind: 'wait', selector: '#never' },
    ],
    [
      { assert: 'elementText', selector: '#greeting', expected: 'Goodbye' },
      { expected: 'Goodbye', actual: 'Hello' },
    ],
    [
      { assert: 'elementTextContains', selector: '#greeting', expected: 'bye' },
      { expected: 'bye', actual: 'Hello' },
    ],
    [
      { assert: 'elementVisible', selector: '#hidden', expected: true },
      { expected: true, actual: false },
    ],
    [
      { assert: 'elementExists', selector: '#missing', expected: true },
      { expected: true, actual: false },
    ],
    [
      { assert: 'elementAttribute', selector: '#link', attribute: 'href', expected: '/else' },
      { expected: '/else', actual: '/next' },
    ],
    [
      { assert: 'elementValue', selector: '#name', expected: 'Ada' },
      { expected: 'Ada', actual: '' },
    ],
    [
      { assert: 'elementCount', selector: '#list li', expected: 3 },
      { expected: 3, actual: 0 },
    ],
    [
      { assert: 'elementCSS', selector: '#box', property: 'color', expected: 'blue' },
      { expected: 'blue', actual: 'rgb(255, 0, 0)' },
    ],
    [{ assert: 'elementText', selector: '#missing', expected: 'x' }, { actual: null }],
  ]

  test('each step fails on a page that does not do what it expects, naming selector, expected and actual', async () => {
    const results = await Promise.all(
      failures.map(([step]) =>
        run(
          steps([
            { assert: 'elementExists', selector: '#box', expected: true },
            step,
            { action: 'click', selector: '#add' },
          ]),
        ),
      ),
    )
    for (const [at, result] of results.entries()) {
      const [step, says] = failures[at]!
      const kind = 'action' in step ? step.action : step.assert
      expect(result.status).toBe('fail')
      expect(result.steps.map((s) => s.status)).toEqual(['pass', 'fail', 'skip'])
      expect(result.steps[1]).toMatchObject({ index: 1, kind, selector: step.selector, status: 'fail', ...says })
      expect(result.message).toStartWith(`Step 2 failed: ${kind} ${step.selector}`)
      expect(result.screenshot).toStartWith('data:image/png;base64,')
    }
    expect(results[4]!.message).toBe('Step 2 failed: elementText #greeting: expected text "Goodbye" but was "Hello"')
    expect(results[12]!.message).toBe('Step 2 failed: elementText #missing: no element matches')
  }, 240_000)
})
