/**
 * Shared by the playground tests: the real app listening on 127.0.0.1 (port 0), and one Chromium per test file
 * driving the page as a person would (controls found by role and name). This Chromium is the test's own
 * client, started by playwright outside the sandbox (it must reach the server over loopback); the server's own
 * browser tests still run in the sandboxed one (src/browser).
 */
import { afterAll, beforeAll } from 'bun:test'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { CHROMIUM, skipReason } from '../browser/helpers'
import { testApp, type TestAppOptions } from '../support/app'

export { CHROMIUM, skipReason }

/** The app as `testApp` builds it, listening on loopback; closed after the file's tests. */
export function playground(options: TestAppOptions = {}) {
  const app = testApp(options).listen({ hostname: '127.0.0.1', port: 0 })
  afterAll(() => app.stop(true))
  return { app, url: `http://127.0.0.1:${app.server!.port}` }
}

/**
 * Chromium for this file, started before its tests (not inside one: bun ends what a failing test spawned, and
 * the later tests of the file share this browser).
 */
export function browser(): () => Promise<Browser> {
  let started: Promise<Browser> | undefined
  beforeAll(async () => {
    if (!skipReason) await start()
  }, 30_000)
  afterAll(async () => {
    if (started) await (await started).close()
  })
  const start = () =>
    (started ??= import('playwright-core').then(({ chromium }) =>
      chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        // Root in a container: Chromium's own sandbox needs user namespaces it may not get here.
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
      }),
    ))
  return start
}

/** A fresh context (own storage) with a page on /play; CSP violations and page errors are collected. */
export async function openPlayground(browser: Browser, url: string, contextOptions = {}) {
  const context: BrowserContext = await browser.newContext({
    viewport: { width: 1500, height: 1000 },
    ...contextOptions,
  })
  const page: Page = await context.newPage()
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('console', (message) => {
    const text = message.text()
    if (message.type() !== 'error' || !/Content Security Policy|Refused to/i.test(text)) return
    // The learner's page in the preview is refused things on purpose (src/web/preview-shell.ts).
    if (message.location().url.includes('/play/preview')) return
    // Chromium's own editing (a paste, playwright's fill) adds style attributes inside CodeMirror's editable
    // element, which the policy refuses; CodeMirror redraws the line, so nothing is lost.
    if (text.startsWith('Applying inline style')) return
    problems.push(`${text} (${message.location().url})`)
  })
  await page.goto(`${url}/play`)
  return { context, page, problems }
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/** axe-core's serious and critical violations in the page as it is now (rule id and the elements). */
export async function seriousViolations(page: Page): Promise<string[]> {
  // Evaluated over the DevTools protocol: the page's CSP (no inline script) does not apply to it.
  await page.evaluate(axeSource)
  const violations = (await page.evaluate(
    `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations)`,
  )) as {
    id: string
    impact: string
    nodes: { target: string[] }[]
  }[]
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}

export const SCREENSHOTS = new URL('../../docs/screenshots/', import.meta.url).pathname
