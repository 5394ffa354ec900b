/**
 * The step language of interactive tests (tests/frontend/*.json), run against a page. Actions act on the first
 * element the selector matches, as a user would (playwright waits until it can be clicked or typed into, up to
 * the step's time limit). Assertions read the first match too, and are retried for a short while until they
 * hold: a page that updates after a fetch to its backend passes once the answer is shown.
 *
 * Text compares trimmed `textContent`; `elementAttribute` on `class` also passes when every expected class is
 * present; `elementCSS` compares the computed value, with the expected one normalized by the browser the same way
 * (so "red" matches "rgb(255, 0, 0)").
 */
import type { Page } from 'playwright-core'
import type { ActionStep, AssertStep } from '../tasks/model'
import type { BrowserStepResult } from './model'

export type Step = ActionStep | AssertStep

/** How long an assertion is retried before it fails: long enough for a backend round trip and a re-render. */
export const ASSERT_SETTLE_MS = 1500
/** The longest value shown back in a message. */
const SHOWN_CHARS = 200

const show = (value: unknown) => {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(JSON.stringify(value) ?? value)
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}…` : text
}

/** The step's action or assertion name. */
export const stepKind = (step: Step) => ('action' in step ? step.action : step.assert)

/**
 * Runs one step. `settled` (page.ts) lets an assertion first wait, within its time limit, for the answers the page
 * is still waiting for; then it is retried for ASSERT_SETTLE_MS.
 */
export async function runStep(
  page: Page,
  step: Step,
  index: number,
  timeoutMs: number,
  settled: (ms: number) => Promise<void> = async () => {},
): Promise<BrowserStepResult> {
  const kind = stepKind(step)
  const selector = step.selector
  const base = { index, kind, ...(selector === undefined ? {} : { selector }) }
  try {
    if ('action' in step) {
      await act(page, step, timeoutMs)
      return { ...base, status: 'pass', message: `${kind}${selector ? ` ${selector}` : ''}` }
    }
    const started = performance.now()
    await settled(timeoutMs - ASSERT_SETTLE_MS)
    const left = Math.max(0, timeoutMs - (performance.now() - started))
    return { ...base, ...(await check(page, step, Math.min(ASSERT_SETTLE_MS, left), left)) }
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]!.slice(0, 300)
    return { ...base, status: 'fail', message: `${kind}${selector ? ` ${selector}` : ''}: ${message}` }
  }
}

async function act(page: Page, step: ActionStep, timeoutMs: number) {
  const target = () => {
    if (!step.selector) throw new Error('this action needs a selector')
    return page.locator(step.selector).first()
  }
  const text = String(step.value ?? step.text ?? '')
  switch (step.action) {
    case 'click':
      return target().click({ timeout: timeoutMs })
    case 'input':
      return target().fill(text, { timeout: timeoutMs })
    case 'set':
      // Sets the value (form fields) or the text (anything else) directly, then tells the page as typing would.
      return target().evaluate(
        (element, value) => {
          if ('value' in element) (element as HTMLInputElement).value = value
          else element.textContent = value
          element.dispatchEvent(new Event('input', { bubbles: true }))
          element.dispatchEvent(new Event('change', { bubbles: true }))
        },
        text,
        { timeout: timeoutMs },
      )
    case 'wait':
      if (step.selector) return target().waitFor({ state: 'visible', timeout: timeoutMs })
      return page.waitForTimeout(Math.min(step.duration ?? 0, timeoutMs))
  }
}

interface Verdict {
  status: 'pass' | 'fail'
  message: string
  expected: unknown
  actual: unknown
}

/**
 * Reads what the assertion needs, retrying until it holds or `settleMs` passed; the last reading is the verdict.
 * One reading may take up to the step's limit (a busy page answers late; that is not a wrong answer).
 */
async function check(page: Page, step: AssertStep, settleMs: number, readMs: number): Promise<Verdict> {
  const deadline = performance.now() + settleMs
  for (;;) {
    const verdict = await judge(page, step, readMs)
    if (verdict.status === 'pass' || performance.now() >= deadline) return verdict
    await page.waitForTimeout(50)
  }
}

async function judge(page: Page, step: AssertStep, timeoutMs: number): Promise<Verdict> {
  const { selector } = step
  const locator = page.locator(selector)
  const count = await locator.count()
  const verdict = (ok: boolean, expected: unknown, actual: unknown, what: string): Verdict => ({
    status: ok ? 'pass' : 'fail',
    message: ok
      ? `${step.assert} ${selector}: ${what} ${show(actual)}`
      : `${step.assert} ${selector}: expected ${what} ${show(expected)} but was ${show(actual)}`,
    expected,
    actual,
  })
  if (step.assert === 'elementCount')
    return verdict(count === Number(step.expected), Number(step.expected), count, 'count')
  if (step.assert === 'elementExists') {
    const expected = step.expected === undefined ? true : Boolean(step.expected)
    return verdict(count > 0 === expected, expected, count > 0, 'exists')
  }
  if (step.assert === 'elementVisible') {
    const expected = step.expected === undefined ? true : Boolean(step.expected)
    const visible = count > 0 && (await locator.first().isVisible())
    return verdict(visible === expected, expected, visible, 'visible')
  }
  if (count === 0) {
    return {
      status: 'fail',
      message: `${step.assert} ${selector}: no element matches`,
      expected: step.expected,
      actual: null,
    }
  }
  const first = locator.first()
  const options = { timeout: timeoutMs }
  switch (step.assert) {
    case 'elementText': {
      const actual = ((await first.textContent(options)) ?? '').trim()
      const expected = String(step.expected ?? '').trim()
      return verdict(actual === expected, expected, actual, 'text')
    }
    case 'elementTextContains': {
      const actual = ((await first.textContent(options)) ?? '').trim()
      const expected = String(step.expected ?? '')
      return verdict(actual.includes(expected), expected, actual, 'text containing')
    }
    case 'elementValue': {
      const actual = await first.evaluate(
        (element) => String((element as HTMLInputElement).value ?? ''),
        undefined,
        options,
      )
      const expected = String(step.expected ?? '')
      return verdict(actual === expected, expected, actual, 'value')
    }
    case 'elementAttribute': {
      if (!step.attribute) throw new Error('elementAttribute needs "attribute"')
      const actual = await first.getAttribute(step.attribute, options)
      const expected = step.expected === null ? null : String(step.expected ?? '')
      const classes = (text: string | null) => (text ?? '').split(/\s+/).filter(Boolean)
      const ok =
        actual === expected ||
        (step.attribute === 'class' &&
          expected !== null &&
          classes(expected).every((name) => classes(actual).includes(name)))
      return verdict(ok, expected, actual, `${step.attribute}`)
    }
    case 'elementCSS': {
      if (!step.property) throw new Error('elementCSS needs "property"')
      const expected = String(step.expected ?? '').trim()
      const [actual, normalized] = await first.evaluate(
        (element, [property, wanted]) => {
          const name = property.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)
          const value = getComputedStyle(element).getPropertyValue(name).trim()
          const probe = document.createElement('div')
          probe.style.setProperty(name, wanted)
          if (!probe.style.getPropertyValue(name)) return [value, null]
          element.parentElement?.appendChild(probe)
          const same = getComputedStyle(probe).getPropertyValue(name).trim()
          probe.remove()
          return [value, same]
        },
        [step.property, expected] as const,
        options,
      )
      return verdict(actual === expected || actual === normalized, expected, actual, step.property)
    }
  }
}
