/**
 * What an assertion reads of the page, read where the page's own JavaScript cannot reach: a JavaScript world of
 * our own in the page (an isolated world, made through the DevTools protocol), which shares the DOM with the page
 * but none of its globals or prototypes. A page that replaces `getComputedStyle`, a getter of `Node.prototype` or
 * `CSSStyleDeclaration.prototype.setProperty` changes its own world only. The reading is bounded there (at most
 * READ_CHARS characters come back) and compared here: an expected value is never sent to the learner's page.
 *
 * A CSS value is compared as the browser computes it ("red" is "rgb(255, 0, 0)"): the expected one is computed in
 * a blank page of ours, never in the learner's (normalizer below).
 */
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core'

/** Longest reading compared: an element's text beyond this is cut (a page may hold megabytes of text). */
export const READ_CHARS = 1 << 20

export type Reading =
  | { kind: 'count' }
  | { kind: 'text' }
  | { kind: 'value' }
  | { kind: 'attribute'; name: string }
  | { kind: 'css'; property: string }

/**
 * `found: false`: no element matches (in the document; playwright's selectors also pierce shadow roots, and
 * selectors that are not CSS, like `text=…`, are left to playwright by the caller: `unsupported`).
 * `count`: how many elements match; `value` (of the first): cut at READ_CHARS; `length` is the whole length.
 */
export type ReadResult =
  | { found: false; unsupported?: boolean }
  | { found: true; count: number; value: string | null; length: number }

/** Runs in our own world: only DOM state the page set is seen, never its JavaScript. */
function readInWorld(selector: string, kind: string, name: string, limit: number) {
  let elements: NodeListOf<Element>
  try {
    elements = document.querySelectorAll(selector)
  } catch {
    return { found: false, unsupported: true }
  }
  const element = elements[0]
  if (!element) return { found: false }
  const count = elements.length
  if (kind === 'count') return { found: true, count, value: null, length: 0 }
  let value: string | null
  if (kind === 'text') value = (element.textContent ?? '').trim()
  else if (kind === 'value') value = 'value' in element ? String((element as HTMLInputElement).value ?? '') : ''
  else if (kind === 'attribute') value = element.getAttribute(name)
  else {
    const property = name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)
    value = getComputedStyle(element).getPropertyValue(property).trim()
  }
  return { found: true, count, value: value === null ? null : value.slice(0, limit), length: value?.length ?? 0 }
}

const WORLD = 'ai-tutor-assertions'

export interface Reader {
  read(selector: string, reading: Reading): Promise<ReadResult>
  /** Opens the DevTools session now (while the page loads), so the first assertion does not wait for it. */
  prepare(): void
}

/** A reader for `page`; its world is made on first use and again after the page navigates. */
export function createReader(page: Page): Reader {
  let session: Promise<{ session: CDPSession; frameId: string }> | null = null
  let world: Promise<number> | null = null

  const open = () =>
    (session ??= (async () => {
      const cdp = await page.context().newCDPSession(page)
      const { frameTree } = await cdp.send('Page.getFrameTree')
      return { session: cdp, frameId: frameTree.frame.id }
    })())

  const worldId = () =>
    (world ??= open().then(async ({ session, frameId }) => {
      const made = await session.send('Page.createIsolatedWorld', { frameId, worldName: WORLD })
      return made.executionContextId
    }))

  return {
    prepare: () => void open().catch(() => {}),
    async read(selector, reading) {
      const name = reading.kind === 'attribute' ? reading.name : reading.kind === 'css' ? reading.property : ''
      for (let attempt = 0; ; attempt++) {
        try {
          const executionContextId = await worldId()
          const { session: cdp } = await open()
          const answer = await cdp.send('Runtime.callFunctionOn', {
            functionDeclaration: readInWorld.toString(),
            executionContextId,
            arguments: [{ value: selector }, { value: reading.kind }, { value: name }, { value: READ_CHARS }],
            returnByValue: true,
          })
          if (answer.exceptionDetails) throw new Error(answer.exceptionDetails.text)
          return answer.result.value as ReadResult
        } catch (error) {
          // The page navigated (a form submitted, a reload): its documents's world went with it. Once more.
          if (attempt > 0 || !/context/i.test(String((error as Error).message))) throw error
          world = null
        }
      }
    },
  }
}

/** Values computed per browser at most: the expected values of the tests it runs. */
const NORMALIZED_KEPT = 1000

/**
 * CSS values as the browser computes them, in a blank page of ours (no learner code, its own context): the
 * expected value of an elementCSS step goes there, never to the learner's page. Relative units resolve as in an
 * empty page (1em is 16px).
 *
 * @example
 * await normalizer.normalize('color', 'red') // 'rgb(255, 0, 0)'
 */
export function createNormalizer(browser: Browser) {
  // Closed with its browser.
  let blank: Promise<{ context: BrowserContext; page: Page }> | null = null
  const known = new Map<string, string | null>()
  return {
    async normalize(property: string, value: string): Promise<string | null> {
      const key = `${property}\0${value}`
      if (known.has(key)) return known.get(key)!
      blank ??= browser.newContext().then(async (context) => ({ context, page: await context.newPage() }))
      const { page } = await blank
      const normalized = await page.evaluate(
        ([property, value]) => {
          const name = property.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)
          const probe = document.createElement('div')
          probe.style.setProperty(name, value)
          if (!probe.style.getPropertyValue(name)) return null
          document.documentElement.appendChild(probe)
          const computed = getComputedStyle(probe).getPropertyValue(name).trim()
          probe.remove()
          return computed
        },
        [property, value] as const,
      )
      if (known.size >= NORMALIZED_KEPT) known.clear()
      known.set(key, normalized)
      return normalized
    },
  }
}

export type Normalizer = ReturnType<typeof createNormalizer>
