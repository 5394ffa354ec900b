/**
 * What the browser runner takes and gives back (index.ts re-exports it): a test, a step's result, a test's result,
 * and the port itself.
 */
import type { Service } from '../services'
import type { InteractiveTestCase } from '../tasks/model'
import type { FrontendFiles } from './files'

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
    /** Called when the test gets its browser slot; what it returns, when the test gives the slot back. */
    onSlot?: () => () => void
  }): Promise<BrowserTestResult>
  /**
   * The learner's page after load, or after `steps` (a design test's way to a state, such as a won game), for the
   * design judge. A step that fails gives `reason: 'steps_failed'`.
   */
  screenshot(input: {
    files: FrontendFiles
    backendCode?: string
    steps?: InteractiveTest['steps']
    client: string
    signal?: AbortSignal
    /** As for runTest. */
    onSlot?: () => () => void
  }): Promise<{ dataUrl: string } | { error: string; reason: string }>
}
