/**
 * Our own JavaScript world in a learner's page (an isolated world, made through the DevTools protocol): it shares
 * the DOM with the page but none of its globals or prototypes, so a page that replaces `getComputedStyle`, a
 * getter of `Node.prototype` or `CSSStyleDeclaration.prototype.setProperty` changes its own world only. Two uses:
 *
 * - What an assertion reads of the page. The reading is bounded there (at most READ_CHARS characters come back)
 *   and compared here: an expected value is never sent to the learner's page.
 * - Where a click lands. One call finds the element and checks it as a user would see it (visible, enabled, the
 *   element actually under the pointer at its centre, scrolled into view if needed); the click itself is real
 *   input (Input.dispatchMouseEvent: trusted events, focus, default actions), sent in one go. Two round trips per
 *   click where playwright's click takes a dozen and waits for animation frames (~65 ms a click on a 2-core host).
 *
 * A CSS value is compared as the browser computes it ("red" is "rgb(255, 0, 0)"): the expected one is computed in
 * a blank page of ours, never in the learner's (normalizer below).
 */
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core'
import { closedWithin } from './within'

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

/**
 * Where a click on the first match of `selector` would land, or why it cannot land yet: `unsupported` (not a CSS
 * selector), `missing` (no match in the document; playwright's selectors also pierce shadow roots and wait for the
 * element, so the caller leaves that case to it), `waiting` (not visible, not enabled, or another element is on
 * top of it: worth trying again a moment later), `ready` with the point in CSS pixels of the viewport.
 */
export type Aim =
  | { state: 'unsupported' | 'missing' }
  | { state: 'waiting'; why: string }
  | { state: 'ready'; x: number; y: number }

/** Runs in our own world: the page's scripts cannot change what it sees or how it decides. */
function aimInWorld(selector: string) {
  let element: Element | null
  try {
    element = document.querySelector(selector)
  } catch {
    return { state: 'unsupported' }
  }
  if (!element) return { state: 'missing' }
  const describe = (node: Element) =>
    `<${node.localName}${node.id ? `#${node.id}` : ''}${typeof node.className === 'string' && node.className ? `.${node.className.trim().split(/\s+/).join('.')}` : ''}>`.slice(
      0,
      120,
    )
  let box = element.getBoundingClientRect()
  if (box.width === 0 || box.height === 0 || getComputedStyle(element).visibility !== 'visible')
    return { state: 'waiting', why: 'element is not visible' }
  if (element.matches(':disabled') || element.closest('[aria-disabled="true"]'))
    return { state: 'waiting', why: 'element is not enabled' }
  const inView = (rect: DOMRect) =>
    rect.left + rect.width / 2 >= 0 &&
    rect.top + rect.height / 2 >= 0 &&
    rect.left + rect.width / 2 < innerWidth &&
    rect.top + rect.height / 2 < innerHeight
  if (!inView(box)) {
    element.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' })
    box = element.getBoundingClientRect()
    if (!inView(box)) return { state: 'waiting', why: 'element is outside of the viewport' }
  }
  const x = box.left + box.width / 2
  const y = box.top + box.height / 2
  // The element a user would hit there, through open shadow roots.
  let hit = document.elementFromPoint(x, y)
  while (hit?.shadowRoot) {
    const inner = hit.shadowRoot.elementFromPoint(x, y)
    if (!inner || inner === hit) break
    hit = inner
  }
  let node: Node | null = hit
  while (node && node !== element) node = node.parentNode ?? (node instanceof ShadowRoot ? node.host : null)
  if (!node) return { state: 'waiting', why: hit ? `${describe(hit)} intercepts pointer events` : 'element is not hit' }
  return { state: 'ready', x, y }
}

const WORLD = 'ai-tutor-world'

export interface World {
  read(selector: string, reading: Reading): Promise<ReadResult>
  aim(selector: string): Promise<Aim>
  /**
   * A left click at (x, y) as real input: move, press, release, sent at once and answered once the page handled
   * them. Rejects after `timeoutMs` when it has not (a page stuck in a loop never does).
   */
  click(x: number, y: number, timeoutMs: number): Promise<void>
  /** Opens the DevTools session now (while the page loads), so the first step does not wait for it. */
  prepare(): void
}

/**
 * Our world in a page, through the page's DevTools session (`devtools`, opened by the caller); the world is made
 * on first use and again after the page navigates.
 */
export function createWorld(devtools: () => Promise<CDPSession>): World {
  let session: Promise<{ session: CDPSession; frameId: string }> | null = null
  let world: Promise<number> | null = null

  const open = () =>
    (session ??= (async () => {
      const cdp = await devtools()
      const { frameTree } = await cdp.send('Page.getFrameTree')
      return { session: cdp, frameId: frameTree.frame.id }
    })())

  const worldId = () =>
    (world ??= open().then(async ({ session, frameId }) => {
      const made = await session.send('Page.createIsolatedWorld', { frameId, worldName: WORLD })
      return made.executionContextId
    }))

  /** Calls `fn` in our world with `args`; once more in a new world after the page navigated. */
  async function call<T>(fn: (...args: never[]) => unknown, args: unknown[]): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const executionContextId = await worldId()
        const { session: cdp } = await open()
        const answer = await cdp.send('Runtime.callFunctionOn', {
          functionDeclaration: fn.toString(),
          executionContextId,
          arguments: args.map((value) => ({ value })),
          returnByValue: true,
        })
        if (answer.exceptionDetails) throw new Error(answer.exceptionDetails.text)
        return answer.result.value as T
      } catch (error) {
        // The page navigated (a form submitted, a reload): its documents's world went with it. Once more.
        if (attempt > 0 || !/context/i.test(String((error as Error).message))) throw error
        world = null
      }
    }
  }

  return {
    prepare: () => void open().catch(() => {}),
    read(selector, reading) {
      const name = reading.kind === 'attribute' ? reading.name : reading.kind === 'css' ? reading.property : ''
      return call<ReadResult>(readInWorld, [selector, reading.kind, name, READ_CHARS])
    },
    aim: (selector) => call<Aim>(aimInWorld, [selector]),
    async click(x, y, timeoutMs) {
      const { session: cdp } = await open()
      const at = { x, y, button: 'left' as const, clickCount: 1 }
      const sent = Promise.all([
        cdp.send('Input.dispatchMouseEvent', { type: 'mouseMoved', x, y }),
        cdp.send('Input.dispatchMouseEvent', { type: 'mousePressed', ...at, buttons: 1 }),
        cdp.send('Input.dispatchMouseEvent', { type: 'mouseReleased', ...at, buttons: 0 }),
      ])
      sent.catch(() => {}) // left behind when the page does not take the click
      if (!(await closedWithin(sent, timeoutMs)))
        throw new Error(`Timeout ${Math.round(timeoutMs)}ms exceeded: the page did not take the click`)
      await sent
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
