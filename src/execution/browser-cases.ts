/**
 * Browser tests (`type: "frontend_interactive"`) inside a test batch: with the learner's page (`frontendCode`)
 * they run in the browser runner (src/browser) instead of being skipped; everything else in the batch goes to
 * the Python runner as before. Results come back in the batch's order, each as soon as it is known.
 */
import { Value } from '@sinclair/typebox/value'
import {
  normalizeFrontendCode,
  type BrowserRunner,
  type BrowserTestResult,
  type FrontendFiles,
  type InteractiveTest,
} from '../browser'
import { AppError } from '../errors'
import { InteractiveTestCase } from '../tasks/model'
import type { TestCase, TestResult } from './model'
import { batchReport, type RunCases } from './service'
import { workClock } from './work-clock'

/** The learner's page as the browser runner takes it; 400 for a bad shape, 413 beyond `maxBytes` in all. */
export function frontendFiles(input: unknown, maxBytes: number): FrontendFiles {
  const files = normalizeFrontendCode(input)
  const size = Object.entries(files).reduce(
    (sum, [name, content]) => sum + Buffer.byteLength(name) + Buffer.byteLength(content),
    0,
  )
  if (size > maxBytes) {
    throw new AppError('payload_too_large', 413, `frontendCode is ${size} bytes; the limit is ${maxBytes} bytes`)
  }
  return files
}

/** What a browser test needs besides the test: the runner, the page, the backend it calls, who asks. */
export interface BrowserContext {
  browser: BrowserRunner
  files: FrontendFiles
  backendCode?: string
  client: string
  signal?: AbortSignal
  /**
   * Time for all the browser tests of one batch together (EXEC_BATCH_TIMEOUT_MS), counted while at least one of
   * them holds a browser slot (./work-clock.ts): twenty slow tests of one request end as timeout errors instead
   * of holding browser slots for minutes, and a batch that waits its turn behind other learners' loses nothing.
   */
  deadlineMs?: number
  /** Set by withBrowserCases: aborts when `deadlineMs` of running time have passed. */
  deadline?: AbortSignal
  /** Told when each test gets and gives back its slot (the clock behind `deadline`, or a grading's). */
  onSlot?: () => () => void
}

const isInteractive = (test: TestCase) => (test.metadata?.type ?? test.type) === 'frontend_interactive'

/**
 * A browser test as the runner takes it, from a stored test or a client's (flat or wrapped in `metadata`), or
 * the reason it cannot run. Client tests are hostile input: the same schema as task files bounds them.
 */
export function interactiveTest(test: TestCase, name: string): InteractiveTest | string {
  const source = { ...test, ...(test.metadata ?? {}) } as Record<string, unknown>
  const candidate = {
    name,
    type: 'frontend_interactive',
    steps: source.steps,
    ...(source.setup ? { setup: source.setup } : {}),
  }
  if (Value.Check(InteractiveTestCase, candidate)) return candidate as InteractiveTest
  const first = Value.Errors(InteractiveTestCase, candidate).First()
  return `The browser test is malformed: ${first?.path || '/'} ${first?.message ?? 'does not match the step language'}`
}

const rounded = (ms: number) => (Number.isFinite(ms) && ms > 0 ? Math.round(ms * 100) / 100 : 0)

/** A runner's result in the shape of a test result (no expected or actual of its own: the steps carry them). */
export function browserCaseResult(name: string, result: BrowserTestResult): TestResult {
  return {
    testName: name,
    status: result.status,
    message: result.message,
    expected: null,
    actual: null,
    duration_ms: rounded(result.durationMs),
    ...(result.reason ? { reason: result.reason } : {}),
    steps: result.steps,
    ...(result.screenshot ? { screenshot: result.screenshot } : {}),
  }
}

/** Runs one browser test; a runner that throws (a bug, a refusal) is that test's error, not the batch's. */
export async function runBrowserCase(context: BrowserContext, test: TestCase, name: string): Promise<TestResult> {
  const planned = interactiveTest(test, name)
  if (typeof planned === 'string') {
    return {
      testName: name,
      status: 'error',
      message: planned,
      expected: null,
      actual: null,
      duration_ms: 0,
      reason: 'invalid_test',
    }
  }
  if (!context.browser.available()) {
    const message = 'Skipped: no browser is available on this server'
    return {
      testName: name,
      status: 'skip',
      message,
      expected: null,
      actual: null,
      duration_ms: 0,
      reason: 'browser_unavailable',
      steps: [],
    }
  }
  try {
    const { browser, files, backendCode, client, signal, deadline, onSlot } = context
    const result = await browser.runTest({ test: planned, files, backendCode, client, signal, onSlot })
    // Stopped by the batch's deadline: the batch ran out of time, which says nothing about the page.
    if (deadline?.aborted && result.status !== 'pass' && result.status !== 'fail') {
      return {
        ...browserCaseResult(name, result),
        status: 'error',
        reason: 'timeout',
        message: `The batch's browser tests ran out of time (${context.deadlineMs} ms) before this test finished`,
      }
    }
    return browserCaseResult(name, result)
  } catch (error) {
    const message = error instanceof AppError ? error.message : 'The browser failed to run this test'
    return {
      testName: name,
      status: 'error',
      message,
      expected: null,
      actual: null,
      duration_ms: 0,
      reason: 'browser_error',
    }
  }
}

/**
 * `runCases` with the batch's browser tests taken out and run in the browser (concurrently; the runner bounds
 * how many contexts are open). Without a browser context the batch runs as before (browser tests skipped).
 */
export function withBrowserCases(runCases: RunCases, context: BrowserContext | undefined): RunCases {
  if (!context) return runCases
  return async (cases, onResult, onStart) => {
    const inBrowser = cases.flatMap((test, index) => (isInteractive(test) ? [index] : []))
    if (inBrowser.length === 0) return runCases(cases, onResult, onStart)
    const started = performance.now()
    const results: TestResult[] = []
    // A refused or failed sandbox batch fails the request: the browser tests still running stop with it.
    const stop = new AbortController()
    const clock = context.deadlineMs ? workClock(context.deadlineMs) : undefined
    const deadline = clock?.signal
    const signals = [context.signal, stop.signal, deadline].filter((signal) => signal !== undefined)
    const browserContext = { ...context, deadline, onSlot: clock?.running, signal: AbortSignal.any(signals) }
    const others = cases.flatMap((test, index) => (isInteractive(test) ? [] : [index]))
    // Nothing waits for a sandbox slot when every case runs in the browser: the batch has started.
    if (others.length === 0) onStart?.()
    const python = others.length
      ? runCases(
          others.map((index) => ({ name: `Test ${index + 1}`, ...cases[index]! })),
          onResult,
          onStart,
        ).then((report) =>
          report.results.forEach((result, i) => {
            results[others[i]!] = result
          }),
        )
      : undefined
    const browser = inBrowser.map(async (index) => {
      const result = await runBrowserCase(browserContext, cases[index]!, cases[index]!.name ?? `Test ${index + 1}`)
      results[index] = result
      await onResult?.(result)
    })
    try {
      await Promise.all([python, ...browser])
    } catch (error) {
      stop.abort()
      throw error
    } finally {
      clock?.close()
    }
    return batchReport(results, started)
  }
}
