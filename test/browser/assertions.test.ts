/**
 * Assertions are read where the page's JavaScript cannot reach and compared on our side: a page that replaces
 * the functions an assertion might use can neither forge a pass nor see the expected value, and a page that
 * shows megabytes of text gets a bounded `actual` back.
 */
import { describe, expect, test } from 'bun:test'
import { ACTUAL_CHARS } from '../../src/browser/steps'
import { named, page, realRunner, skipReason, steps } from './helpers'

const { runner } = realRunner()

/**
 * A page that forges every reading it can (computed styles, text, values, attributes) and writes down in #leak
 * every argument those functions are called with, and every element added to its document.
 */
const forging = page(
  `<div id="box">box</div><input id="name" value="real"><a id="link" href="/real">link</a><p id="leak"></p>`,
  `const leak = document.getElementById('leak')
   const note = (what) => { leak.setAttribute('data-seen', (leak.getAttribute('data-seen') || '') + ' ' + what) }
   window.getComputedStyle = () => ({ getPropertyValue: () => 'forged' })
   const setProperty = CSSStyleDeclaration.prototype.setProperty
   CSSStyleDeclaration.prototype.setProperty = function (name, value) { note(name + '=' + value); return setProperty.call(this, name, value) }
   const text = Object.getOwnPropertyDescriptor(Node.prototype, 'textContent')
   Object.defineProperty(Node.prototype, 'textContent', { get() { note('textContent'); return 'forged' }, set: text.set })
   Object.defineProperty(HTMLInputElement.prototype, 'value', { get() { note('value'); return 'forged' } })
   const getAttribute = Element.prototype.getAttribute
   Element.prototype.getAttribute = function (name) { if (this !== leak) note('getAttribute ' + name); return name === 'href' ? 'forged' : getAttribute.call(this, name) }
   new MutationObserver((records) => records.forEach((record) => record.addedNodes.forEach((node) => note('added ' + node.nodeName))))
     .observe(document, { subtree: true, childList: true })`,
  '#box { color: rgb(1, 2, 3) }',
)

describe.skipIf(skipReason !== null)(named('assertions out of reach of the page'), () => {
  test('a page that replaces getComputedStyle, textContent, value and getAttribute passes none of it', async () => {
    for (const assertion of [
      { assert: 'elementCSS', selector: '#box', property: 'color', expected: 'forged' },
      { assert: 'elementText', selector: '#box', expected: 'forged' },
      { assert: 'elementValue', selector: '#name', expected: 'forged' },
      { assert: 'elementAttribute', selector: '#link', attribute: 'href', expected: 'forged' },
    ] as const) {
      const result = await runner.runTest({ test: steps([assertion]), files: forging, client: 'tests' })
      expect({ status: result.status, actual: result.steps[0]!.actual }).toEqual({
        status: 'fail',
        actual: { elementCSS: 'rgb(1, 2, 3)', elementText: 'box', elementValue: 'real', elementAttribute: '/real' }[
          assertion.assert
        ],
      })
    }
  }, 120_000)

  test('the page sees no expected value, no call and no element of ours while its assertions pass', async () => {
    const result = await runner.runTest({
      test: steps([
        { assert: 'elementCSS', selector: '#box', property: 'color', expected: 'rgb(1, 2, 3)' },
        { assert: 'elementCSS', selector: '#box', property: 'color', expected: '#010203' },
        { assert: 'elementText', selector: '#box', expected: 'box' },
        { assert: 'elementValue', selector: '#name', expected: 'real' },
        { assert: 'elementAttribute', selector: '#link', attribute: 'href', expected: '/real' },
        { assert: 'elementAttribute', selector: '#leak', attribute: 'data-seen', expected: null },
      ]),
      files: forging,
      client: 'tests',
    })
    expect(result.steps.map(({ status, actual }) => ({ status, actual }))).toEqual([
      { status: 'pass', actual: 'rgb(1, 2, 3)' },
      { status: 'pass', actual: 'rgb(1, 2, 3)' },
      { status: 'pass', actual: 'box' },
      { status: 'pass', actual: 'real' },
      { status: 'pass', actual: '/real' },
      { status: 'pass', actual: null },
    ])
  }, 120_000)

  test('ten megabytes of text come back as a bounded actual value, promptly', async () => {
    const result = await runner.runTest({
      test: steps([{ assert: 'elementText', selector: '#result', expected: 'ok' }]),
      files: page('<p id="result"></p>', "document.getElementById('result').textContent = 'z'.repeat(1e7)"),
      client: 'tests',
    })
    expect(result.status).toBe('fail')
    const actual = result.steps[0]!.actual as string
    expect(actual).toBe(`${'z'.repeat(ACTUAL_CHARS)}…`)
    expect(result.message.length).toBeLessThan(400)
    expect(result.durationMs).toBeLessThan(10_000)
  }, 120_000)
})
