/**
 * One test's page: a fresh browser context whose every request is answered here. The learner's files come from
 * one fake origin (`route.fulfill`), the page's calls to other paths of that origin go to the test's mocks or to
 * the learner's backend (backend.ts), and everything else is aborted. That interception is for correctness only:
 * the browser has no network at all (launch.ts), so a request that slips past it (a beacon, a prefetch) reaches
 * nothing either. Dialogs are dismissed and popups closed as they open.
 */
import type { Browser, BrowserContext, Page, Route } from 'playwright-core'
import type { EndpointMock, InteractiveSetup } from '../tasks/model'
import type { Backend } from './backend'
import { entryPage, type FrontendFiles } from './files'

/** The page's address. `.test` is reserved (RFC 2606): it can never name a real host. */
export const ORIGIN = 'http://learner.test'
export const VIEWPORT = { width: 1280, height: 800 }
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

export interface PageOptions {
  files: FrontendFiles
  setup?: InteractiveSetup
  backend: Backend | null
  stepTimeoutMs: number
}

export interface OpenedPage {
  context: BrowserContext
  page: Page
  /** Set when the page's renderer died (killed for memory, crashed). */
  crashed(): boolean
  /**
   * Resolves once no request of the page is being answered by the learner's backend, or after `ms`: an assertion
   * after a click then sees the answer however long a cold backend took to start. A mock's `delay` is not waited
   * for: it is there so that a test can see the page while it waits.
   */
  settled(ms: number): Promise<void>
}

export async function openPage(
  browser: Browser,
  { files, setup = {}, backend, stepTimeoutMs }: PageOptions,
): Promise<OpenedPage> {
  const seeded = Boolean(setup.cookies?.length || (setup.localStorage && Object.keys(setup.localStorage).length))
  const context = await browser.newContext({
    viewport: VIEWPORT,
    serviceWorkers: 'block',
    acceptDownloads: false,
    // Only when there is something to set: playwright opens a page of the origin to write localStorage.
    storageState: seeded ? storageState(setup) : undefined,
  })
  context.setDefaultTimeout(stepTimeoutMs)
  const mocks = (setup.mocks ?? []).map((mock) => ({ mock, answered: 0 }))
  const calls = backendCalls()
  await context.route('**/*', (route) =>
    answer(route, files, mocks, backend, calls).catch(() => route.abort().catch(() => {})),
  )
  let crashed = false
  let pages = 0
  // The first page of a fresh context is ours (the event fires before newPage resolves); any later one a popup.
  context.on('page', (opened) => {
    if (pages++ > 0) void opened.close().catch(() => {})
  })
  const page = await context.newPage()
  page.on('dialog', (dialog) => void dialog.dismiss().catch(() => {}))
  page.on('crash', () => (crashed = true))
  return { context, page, crashed: () => crashed, settled: calls.settled }
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
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.max(0, ms))
            idle.push(() => {
              clearTimeout(timer)
              resolve()
            })
          }),
  }
}

async function answer(
  route: Route,
  files: FrontendFiles,
  mocks: { mock: EndpointMock; answered: number }[],
  backend: Backend | null,
  calls: ReturnType<typeof backendCalls>,
) {
  const request = route.request()
  const url = new URL(request.url())
  if (url.origin !== ORIGIN) return route.abort('blockedbyclient')
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

function storageState(setup: InteractiveSetup) {
  return {
    cookies: (setup.cookies ?? []).map(({ name, value }) => ({
      name,
      value,
      domain: new URL(ORIGIN).hostname,
      path: '/',
      expires: -1,
      httpOnly: false,
      secure: false,
      sameSite: 'Lax' as const,
    })),
    origins: setup.localStorage
      ? [{ origin: ORIGIN, localStorage: Object.entries(setup.localStorage).map(([name, value]) => ({ name, value })) }]
      : [],
  }
}
