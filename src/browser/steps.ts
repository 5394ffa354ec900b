/**
 * The step language of interactive tests (tests/frontend/*.json), run against a page. Actions act on the first
 * element the selector matches, as a user would (playwright waits until it can be clicked or typed into, up to
 * the step's time limit). Assertions read the first match too, and are retried for a short while until they
 * hold: a page that updates after a fetch to its backend passes once the answer is shown.
 *
 * Text compares trimmed `textContent`; `elementAttribute` on `class` also passes when every expected class is
 * present; `elementCSS` compares the computed value, with the expected one normalized by the browser the same way
 * (so "red" matches "rgb(255, 0, 0)"). Every reading is taken where the page's JavaScript cannot reach and
 * compared here (read.ts): the page never sees an expected value, and cannot forge what an assertion reads.
 */
import type { Page } from 'playwright-core'
import type { ActionStep, AssertStep } from '../tasks/model'
import type { BrowserStepResult } from './model'
import { type Aim, READ_CHARS, type World, type Reading, type ReadResult } from './world'

export type Step = ActionStep | AssertStep

/** How long an assertion is retried before it fails: long enough for a backend round trip and a re-render. */
export const ASSERT_SETTLE_MS = 1500
/** The longest value shown back in a message. */
const SHOWN_CHARS = 200
/** The longest `actual` value given back with a step (a page may show megabytes of text). */
export const ACTUAL_CHARS = 1000

const bounded = (value: unknown) =>
  typeof value === 'string' && value.length > ACTUAL_CHARS ? `${value.slice(0, ACTUAL_CHARS)}…` : value

/** What a step needs besides the page (page.ts, world.ts). */
export interface StepTools {
  /** Waits, up to `ms`, for the page's pending calls to the learner's backend; true when there were any. */
  settled(ms: number): Promise<boolean>
  /** Our own world in the page: reads elements, aims clicks. */
  world: World
  /** A CSS value as the browser computes it, in a page of ours; null when it is not a valid value. */
  normalize(property: string, value: string): Promise<string | null>
}

const show = (value: unknown) => {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(JSON.stringify(value) ?? value)
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}…` : text
}

/** The step's action or assertion name. */
export const stepKind = (step: Step) => ('action' in step ? step.action : step.assert)

/**
 * Runs one step. `tools.settled` (page.ts) lets an assertion first wait, within its time limit, for the answers
 * the page is still waiting for; then it is retried for ASSERT_SETTLE_MS.
 */
export async function runStep(
  page: Page,
  step: Step,
  index: number,
  timeoutMs: number,
  tools: StepTools,
): Promise<BrowserStepResult> {
  const kind = stepKind(step)
  const selector = step.selector
  const base = { index, kind, ...(selector === undefined ? {} : { selector }) }
  try {
    if ('action' in step) {
      await act(page, step, timeoutMs, tools)
      return { ...base, status: 'pass', message: `${kind}${selector ? ` ${selector}` : ''}` }
    }
    const started = performance.now()
    await tools.settled(timeoutMs - ASSERT_SETTLE_MS)
    const left = Math.max(0, timeoutMs - (performance.now() - started))
    return { ...base, ...(await check(page, step, Math.min(ASSERT_SETTLE_MS, left), left, tools)) }
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]!.slice(0, 300)
    return { ...base, status: 'fail', message: `${kind}${selector ? ` ${selector}` : ''}: ${message}` }
  }
}

async function act(page: Page, step: ActionStep, timeoutMs: number, tools: StepTools) {
  const target = () => {
    if (!step.selector) throw new Error('this action needs a selector')
    return page.locator(step.selector).first()
  }
  const text = String(step.value ?? step.text ?? '')
  switch (step.action) {
    case 'click': {
      const locator = target()
      const left = await click(step.selector!, timeoutMs, tools)
      // Not a CSS selector, or no match yet (it may appear, or be inside a shadow root): playwright waits for it.
      if (left !== null) return locator.click({ timeout: left })
      return
    }
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

/** How long a click waits between two looks at an element that is not ready (not visible, covered, ...). */
const AIM_RETRY_MS = 20

/**
 * Clicks the first match of `selector` through our world (world.ts): once it is visible, enabled and the element
 * under the pointer, a real click at its centre. Retried until `timeoutMs` while it is not ready. Resolves null once
 * clicked, or the time left when our world cannot do it (no match, not a CSS selector): playwright then does.
 */
async function click(selector: string, timeoutMs: number, tools: StepTools): Promise<number | null> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    // A page in the middle of navigating has no document for our world yet: playwright waits for it instead.
    const aim: Aim = await tools.world.aim(selector).catch(() => ({ state: 'missing' as const }))
    const left = deadline - performance.now()
    if (aim.state === 'ready') return tools.world.click(aim.x, aim.y, Math.max(1, left)).then(() => null)
    if (aim.state !== 'waiting') return Math.max(1, left)
    if (left <= 0) throw new Error(`Timeout ${Math.round(timeoutMs)}ms exceeded: ${aim.why}`)
    await Bun.sleep(Math.min(AIM_RETRY_MS, left))
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
async function check(
  page: Page,
  step: AssertStep,
  settleMs: number,
  readMs: number,
  tools: StepTools,
): Promise<Verdict> {
  const stepEnd = performance.now() + readMs
  let deadline = performance.now() + settleMs
  for (;;) {
    const verdict = await judge(page, step, Math.max(1, stepEnd - performance.now()), tools)
    if (verdict.status === 'pass') return verdict
    // A call to the learner's backend that began meanwhile (a click's fetch reaches us a moment after the click)
    // is waited for, within the step's limit, and the retries go on after its answer.
    const waiting = performance.now()
    if (waiting >= stepEnd) return verdict
    if (await tools.settled(stepEnd - waiting - 50)) {
      deadline = Math.min(stepEnd, deadline + (performance.now() - waiting))
      continue
    }
    if (performance.now() >= deadline) return verdict
    await page.waitForTimeout(50)
  }
}

async function judge(page: Page, step: AssertStep, timeoutMs: number, tools: StepTools): Promise<Verdict> {
  const { selector } = step
  const locator = page.locator(selector)
  // One call to our own world counts the matches and reads the first (readingOf); where it finds none, playwright
  // counts in its own isolated world (its selectors also pierce shadow roots). Either gives back only what the
  // assertion needs.
  const wanted = readingOf(step)
  // A page in the middle of navigating has no document for our world yet: playwright waits for it instead.
  const quick: ReadResult = await tools.world.read(selector, wanted).catch(() => ({ found: false }))
  const count = quick.found ? quick.count : await locator.count()
  const verdict = (ok: boolean, expected: unknown, actual: unknown, what: string): Verdict => ({
    status: ok ? 'pass' : 'fail',
    message: ok
      ? `${step.assert} ${selector}: ${what} ${show(actual)}`
      : `${step.assert} ${selector}: expected ${what} ${show(expected)} but was ${show(actual)}`,
    expected,
    actual: bounded(actual),
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
  const read = async (reading: Reading) => (quick.found ? quick.value : readValue(page, selector, reading, timeoutMs))
  switch (step.assert) {
    case 'elementText': {
      const actual = (await read({ kind: 'text' })) ?? ''
      const expected = String(step.expected ?? '').trim()
      return verdict(actual === expected, expected, actual, 'text')
    }
    case 'elementTextContains': {
      const actual = (await read({ kind: 'text' })) ?? ''
      const expected = String(step.expected ?? '')
      return verdict(actual.includes(expected), expected, actual, 'text containing')
    }
    case 'elementValue': {
      const actual = (await read({ kind: 'value' })) ?? ''
      const expected = String(step.expected ?? '')
      return verdict(actual === expected, expected, actual, 'value')
    }
    case 'elementAttribute': {
      if (!step.attribute) throw new Error('elementAttribute needs "attribute"')
      const actual = await read({ kind: 'attribute', name: step.attribute })
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
      const actual = (await read({ kind: 'css', property: step.property })) ?? ''
      const same = actual === expected || actual === (await tools.normalize(step.property, expected))
      return verdict(same, expected, actual, step.property)
    }
  }
}

/** What an assertion reads of the first match besides the count. */
function readingOf(step: AssertStep): Reading {
  switch (step.assert) {
    case 'elementText':
    case 'elementTextContains':
      return { kind: 'text' }
    case 'elementValue':
      return { kind: 'value' }
    case 'elementAttribute':
      return { kind: 'attribute', name: step.attribute ?? '' }
    case 'elementCSS':
      return { kind: 'css', property: step.property ?? '' }
    default:
      return { kind: 'count' }
  }
}

/**
 * The reading of the first element `selector` matches, from our own world (world.ts). Where that world cannot
 * read it (a selector only playwright knows, like `text=Save`, or an element in a shadow root), playwright reads
 * it in its own isolated world instead; a CSS value has no such second way.
 */
async function readValue(page: Page, selector: string, reading: Reading, timeoutMs: number): Promise<string | null> {
  const first = page.locator(selector).first()
  const options = { timeout: timeoutMs }
  const cut = (text: string | null) => (text === null ? null : text.slice(0, READ_CHARS))
  switch (reading.kind) {
    case 'text':
      return cut(((await first.textContent(options)) ?? '').trim())
    case 'value':
      return cut(await first.inputValue(options).catch(() => first.getAttribute('value', options).then((v) => v ?? '')))
    case 'attribute':
      return cut(await first.getAttribute(reading.name, options))
    case 'css':
      throw new Error('elementCSS needs a CSS selector that matches outside shadow roots')
    case 'count':
      return null
  }
}
