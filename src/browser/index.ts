/**
 * The browser runner: the learner's front end in a headless Chromium on this server, driven step by step
 * (steps.ts), with the learner's backend answering the page's requests (page.ts). Chromium itself runs inside
 * the sandbox (launch.ts); one warm browser serves every test, each test in a fresh context (runner.ts).
 *
 * @example
 * const browser = createBrowserRunner({ config, logger, sandbox })
 * const result = await browser.runTest({ test, files: normalizeFrontendCode(body.frontendCode), backendCode, client })
 * // { status: 'fail', message: 'Step 3 (elementText #status): expected "X wins" but was "O wins"', steps: [...], screenshot }
 */
import type { Service } from '../services'
import type { InteractiveTestCase } from '../tasks/model'
import type { FrontendFiles } from './files'

export { entryPage, normalizeFrontendCode, type FrontendFiles } from './files'
export { createBrowserRunner } from './runner'

/** An interactive test as stored in a task (tests/frontend/*.json) or sent by a client. */
export type InteractiveTest = Pick<InteractiveTestCase, 'steps'> & Partial<Omit<InteractiveTestCase, 'steps'>>

export interface BrowserStepResult {
  index: number
  /** The step's action or assertion name (`click`, `elementText`, …). */
  kind: string
  status: 'pass' | 'fail' | 'skip'
  message: string
  selector?: string
  expected?: unknown
  actual?: unknown
}

export interface BrowserTestResult {
  status: 'pass' | 'fail' | 'error' | 'skip'
  /** Why a test did not pass normally: browser_unavailable, timeout, page_crashed, … */
  reason?: string
  message: string
  steps: BrowserStepResult[]
  durationMs: number
  /** A PNG data URL of the page when the test failed (height- and size-capped). */
  screenshot?: string
}

export interface BrowserRunner extends Service {
  /** false when Chromium is not installed at BROWSER_PATH: tests are then `skip` (browser_unavailable). */
  available(): boolean
  runTest(input: {
    test: InteractiveTest
    files: FrontendFiles
    backendCode?: string
    client: string
    signal?: AbortSignal
  }): Promise<BrowserTestResult>
  /** The learner's page after load, for the design judge. */
  screenshot(input: {
    files: FrontendFiles
    backendCode?: string
    client: string
    signal?: AbortSignal
  }): Promise<{ dataUrl: string } | { error: string; reason: string }>
}
