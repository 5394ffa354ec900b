/**
 * A test's page. A page is kept per browser slot and handed to one test after another (runner.ts): made once
 * (a browser context of its own, ~150 ms of a 2-core host's time), then reset between tests (reset below).
 * Every request of the page is answered here, by whichever test holds the page: the learner's files come from one
 * fake origin (`route.fulfill`), the page's calls to other paths of that origin go to the test's mocks or to the
 * learner's backend (backend.ts), and everything else is aborted. That interception is for correctness only: the
 * browser has no network at all (launch.ts), so a request that slips past it (a beacon, a prefetch) reaches
 * nothing either. Dialogs are dismissed and popups closed as they open.
 */
import type { Browser, BrowserContext, CDPSession, Page, Route } from 'playwright-core'
import type { EndpointMock, InteractiveSetup } from '../tasks/model'
import type { Backend } from './backend'
import { entryPage, type FrontendFiles } from './files'
import { closedWithin } from './within'
import { createWorld, type World } from './world'

/** The page's address. `.test` is reserved (RFC 2606): it can never name a real host. */
export const ORIGIN = 'http://learner.test'
/** Where a page waits between tests: an empty document of the same origin (no script, nothing of any test). */
const BETWEEN_TESTS = `${ORIGIN}/.between-tests`
export const VIEWPORT = { width: 1280, height: 800 }
/** A page whose renderer holds more JavaScript memory than this after its test is not kept for the next one. */
const KEEP_HEAP_BYTES = 64 << 20
/** Largest request body the page may send to the learner's backend. */
const MAX_REQUEST_BYTES = 1 << 20

const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  json: 'application/json',
  svg: 'image/svg+xml',
  txt: 'text/plain; charset=utf-8',
}

/** What one test brings to the page. */
export interface PageTest {
  files: FrontendFiles
  setup?: InteractiveSetup
  backend: Backend | null
}

export interface OpenedPage {
  context: BrowserContext
  page: Page
  /** Set when the page's renderer died (killed for memory, crashed). */
  crashed(): boolean
  /** The page's one DevTools session of ours (the reset's, and our world's), opened on first use. */
  devtools(): Promise<CDPSession>
  /** Our world in the page (world.ts), kept with it: made again by itself after each navigation. */
  world(): World
  /**
   * Resolves once no request of the page is being answered by the learner's backend, or after `ms` (true when
   * there was one to wait for): an assertion after a click then sees the answer however long a cold backend took
   * to start. A mock's `delay` is not waited for: it is there so that a test can see the page while it waits.
   */
  settled(ms: number): Promise<boolean>
  /**
   * Gives the page to `test`: from now on its files, mocks and backend answer the page, and its cookies and
   * localStorage are set (on an empty document of the origin, before the test loads its own).
   */
  assign(test: PageTest): Promise<void>
  /**
   * Takes the page back after a test, for the next one: the test's document is left for an empty one of the same
   * origin (its scripts, timers, sockets and workers end with it), then cookies, every kind of storage of the
   * origin (local, session, IndexedDB, Cache Storage, service workers), permissions, `window.name` and the
   * history are cleared. Resolves false when that did not all happen within `ms`, or when the page's renderer
   * still holds much memory (KEEP_HEAP_BYTES): then the page must be closed.
   */
  reset(ms: number): Promise<boolean>
}

export async function openPage(browser: Browser, stepTimeoutMs: number): Promise<OpenedPage> {
  const context = await browser.newContext({ viewport: VIEWPORT, serviceWorkers: 'block', acceptDownloads: false })
  context.setDefaultTimeout(stepTimeoutMs)
  /** The test that holds the page (null between tests: every request then gets the empty document or a 404). */
  let current: Holder | null = null
  await context.route('**/*', (route) => {
    const holder = current // the test that holds the page when the request is made answers it
    return answer(route, holder).catch(() => route.abort().catch(() => {}))
  })
  let crashed = false
  let pages = 0
  // The first page of a fresh context is ours (the event fires before newPage resolves); any later one a popup.
  context.on('page', (opened) => {
    if (pages++ > 0) void opened.close().catch(() => {})
  })
  const page = await context.newPage()
  // A "leave this page?" prompt is answered yes: the reset after a test leaves the page whatever it asks.
  page.on(
    'dialog',
    (dialog) => void (dialog.type() === 'beforeunload' ? dialog.accept() : dialog.dismiss()).catch(() => {}),
  )
  page.on('crash', () => (crashed = true))
  let session: Promise<CDPSession> | undefined
  const devtools = () => (session ??= context.newCDPSession(page))
  let world: World | undefined

  const between = () => page.goto(BETWEEN_TESTS, { waitUntil: 'load' })
  return {
    context,
    page,
    crashed: () => crashed,
    devtools,
    world() {
      if (!world) {
        world = createWorld(devtools)
        world.prepare()
      }
      return world
    },
    settled: (ms) => current?.calls.settled(ms) ?? Promise.resolve(false),
    async assign(test) {
      current = { test, mocks: (test.setup?.mocks ?? []).map((mock) => ({ mock, answered: 0 })), calls: backendCalls() }
      const { cookies = [], localStorage = {} } = test.setup ?? {}
      if (cookies.length) await context.addCookies(cookies.map(cookieOf))
      if (Object.keys(localStorage).length) {
        if (page.url() !== BETWEEN_TESTS) await between()
        await page.evaluate((entries) => {
          for (const [name, value] of entries) window.localStorage.setItem(name, value)
        }, Object.entries(localStorage))
      }
    },
    async reset(ms) {
      current = null
      const clean = (async () => {
        const cdp = await devtools()
        // What the test's scripts hold in the renderer's memory when it ends: a page that used much leaves its
        // renderer larger (the allocator keeps freed memory) for the next test to carry; it gets a new one instead.
        const heap = (await cdp.send('Runtime.getHeapUsage')) as { totalSize: number; backingStorageSize?: number }
        await between()
        await Promise.all([
          context.clearCookies(),
          context.clearPermissions(),
          cdp.send('Storage.clearDataForOrigin', { origin: ORIGIN, storageTypes: 'all' }),
          // Kept per tab, not per origin's storage: cleared in the empty document, where no script of a test runs.
          page.evaluate(() => {
            window.sessionStorage.clear()
            window.name = ''
          }),
          cdp.send('Page.resetNavigationHistory'),
        ])
        return !crashed && heap.totalSize + (heap.backingStorageSize ?? 0) <= KEEP_HEAP_BYTES
      })().catch(() => false)
      return (await closedWithin(clean, ms)) && (await clean)
    },
  }
}

/** Loads the entry page; the test goes on even if `load` never fires (a script that never ends). */
export async function loadPage(page: Page, files: FrontendFiles, timeoutMs: number): Promise<void> {
  await page.goto(`${ORIGIN}/${entryPage(files)}`, { waitUntil: 'load', timeout: timeoutMs })
}

/** Counts the page's requests being answered by the learner's backend; `settled` waits for none (or `ms`). */
function backendCalls() {
  let pending = 0
  const idle: (() => void)[] = []
  return {
    async around<T>(call: Promise<T>): Promise<T> {
      pending++
      try {
        return await call
      } finally {
        if (--pending === 0) for (const wake of idle.splice(0)) wake()
      }
    },
    settled: (ms: number) =>
      pending === 0
        ? Promise.resolve(false)
        : new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(true), Math.max(0, ms))
            idle.push(() => {
              clearTimeout(timer)
              resolve(true)
            })
          }),
  }
}

/** The test that holds a page, with what it has answered so far. */
interface Holder {
  test: PageTest
  mocks: { mock: EndpointMock; answered: number }[]
  calls: ReturnType<typeof backendCalls>
}

async function answer(route: Route, holder: Holder | null) {
  const request = route.request()
  const url = new URL(request.url())
  if (url.origin !== ORIGIN) return route.abort('blockedbyclient')
  if (request.url() === BETWEEN_TESTS) return route.fulfill({ status: 200, contentType: 'text/html', body: '' })
  if (!holder) return route.fulfill({ status: 404, contentType: 'text/plain', body: 'Not found' })
  const { test, mocks, calls } = holder
  const { files, backend } = test
  const path = safeDecode(url.pathname)
  const file = path === '/' ? entryPage(files) : path.slice(1)
  if (file !== null && file in files && request.method() === 'GET') {
    const extension = file.split('.').pop()!.toLowerCase()
    return route.fulfill({
      status: 200,
      contentType: CONTENT_TYPES[extension] ?? 'application/octet-stream',
      body: files[file],
    })
  }
  const method = request.method()
  const entry = mocks.find(
    ({ mock }) => mock.endpoint === url.pathname && (!mock.method || mock.method.toUpperCase() === method),
  )
  if (entry) {
    const { mock } = entry
    const reply = mock.sequence
      ? mock.sequence[Math.min(entry.answered, mock.sequence.length - 1)]!
      : { status: 200, body: mock.response ?? null }
    entry.answered++
    if (mock.delay) await Bun.sleep(mock.delay)
    const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? null)
    const contentType = typeof reply.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json'
    return route.fulfill({ status: reply.status ?? 200, contentType, body })
  }
  if (backend && method !== 'OPTIONS') {
    const body = request.postDataBuffer()
    if (body && body.length > MAX_REQUEST_BYTES) {
      return route.fulfill({ status: 413, contentType: 'text/plain', body: `More than ${MAX_REQUEST_BYTES} bytes` })
    }
    const reply = await calls.around(
      backend.call({ method, path: url.pathname + url.search, contentType: request.headers()['content-type'], body }),
    )
    return route.fulfill({ status: reply.status, contentType: reply.contentType, body: reply.body })
  }
  return route.fulfill({ status: 404, contentType: 'text/plain', body: `Not found: ${url.pathname}` })
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path)
  } catch {
    return path
  }
}

function cookieOf({ name, value }: { name: string; value: string }) {
  return { name, value, url: `${ORIGIN}/`, httpOnly: false, secure: false, sameSite: 'Lax' as const }
}
