/**
 * Design tests (judge tests): the server loads the learner's page in the browser, takes a screenshot of it
 * and asks the vision judge (the same code as POST /api/llm-judge) about each requirement; the judge's answer
 * is the test's result. A design test may carry `steps` (the browser tests' step language) that bring the page
 * to the state it judges (a won game) before its screenshot; tests with the same steps, or none (the page as
 * it loads), share one screenshot.
 */
import { entryPage, type BrowserRunner, type FrontendFiles, type InteractiveTest } from '../browser'
import { AppError } from '../errors'
import type { Logger } from '../logging'
import type { ProviderRegistry } from '../providers/provider'
import { judgeScreenshot } from '../judge/service'
import type { Test } from '../tasks/model'
import type { TestResult } from '../execution/model'
import type { TokenBudget } from '../access/token-budget'

export interface DesignDeps {
  browser: BrowserRunner
  providers: ProviderRegistry
  model: string
  logger: Logger
  /**
   * Takes one judge request from the client's allowance (RATE_JUDGE_PER_MIN): a grading with design tests
   * counts like one POST /api/llm-judge, so /api/grade is no way around that limit. false: over it.
   */
  judgeAllowed?: () => Promise<boolean>
  /** Cap on an answer's tokens and the client's AI tokens of the day, as POST /api/llm-judge has them. */
  maxTokens?: number
  budget?: TokenBudget
  /** Counts each judge call by outcome (src/metrics). */
  judged?: (outcome: string) => void
}

export interface DesignInput {
  tests: Test[]
  files?: FrontendFiles
  backendCode?: string
  client: string
  signal: AbortSignal
  /**
   * Told when work of these tests runs (a screenshot that holds its browser slot, a judge call), and, by calling
   * what it returns, when it stops: the grading's clock counts only that time.
   */
  working?: () => () => void
}

/** Judge calls in flight at once for one grading: enough to overlap their latency, few enough for a provider. */
const JUDGE_CONCURRENCY = 4

const result = (
  test: Test,
  status: TestResult['status'],
  message: string,
  extra: Partial<TestResult> = {},
): TestResult => ({
  testName: test.name,
  status,
  message,
  expected: null,
  actual: null,
  duration_ms: 0,
  ...extra,
})

/** Why none of the design tests can be judged, or undefined when they can. */
async function skipReason(
  deps: DesignDeps,
  input: DesignInput,
): Promise<{ reason: string; message: string } | undefined> {
  if (!input.files)
    return { reason: 'no_frontend_code', message: 'Skipped: no frontendCode was sent to take a screenshot of' }
  try {
    deps.providers.resolve(deps.model)
  } catch (error) {
    if (!(error instanceof AppError)) throw error
    return { reason: 'judge_unavailable', message: `Skipped: no judge is configured (${error.message})` }
  }
  if (!deps.browser.available()) {
    return {
      reason: 'browser_unavailable',
      message: 'Skipped: no browser is available on this server to take a screenshot',
    }
  }
  if (deps.judgeAllowed && !(await deps.judgeAllowed())) {
    return {
      reason: 'rate_limited',
      message: 'Skipped: this client is over its judge requests for this minute (RATE_JUDGE_PER_MIN)',
    }
  }
  return undefined
}

/**
 * Judges every design test; `onResult` gets each result as it is known. Never throws for a test's sake: a
 * screenshot that cannot be taken, or a judge that cannot decide, is that test's `error`.
 */
export async function runDesignTests(
  deps: DesignDeps,
  input: DesignInput,
  onResult: (test: Test, result: TestResult) => Promise<void>,
): Promise<void> {
  const { tests } = input
  if (tests.length === 0) return
  const skip = await skipReason(deps, input)
  if (skip) {
    for (const test of tests) await onResult(test, result(test, 'skip', skip.message, { reason: skip.reason }))
    return
  }
  // Tests with the same steps (or none: the page as loaded) share one screenshot; each other state gets its own.
  const byState = new Map<string, Test[]>()
  for (const test of tests) {
    const key = JSON.stringify(stepsOf(test) ?? [])
    byState.set(key, [...(byState.get(key) ?? []), test])
  }
  await Promise.all(
    [...byState.values()].map(async (group) => {
      const started = performance.now()
      const steps = stepsOf(group[0]!)
      const shot = await deps.browser
        .screenshot({
          files: input.files!,
          backendCode: input.backendCode,
          steps,
          client: input.client,
          signal: input.signal,
          onSlot: input.working,
        })
        .catch(() => ({ error: 'the browser failed', reason: 'browser_error' }))
      if ('error' in shot) {
        // Steps that fail: the page cannot be brought to the state the test looks at, which is the page's failing.
        const [status, message] =
          shot.reason === 'steps_failed'
            ? (['fail', `The page could not be brought to the state this test looks at: ${shot.error}`] as const)
            : (['error', `The page could not be captured: ${shot.error}`] as const)
        for (const test of group) await onResult(test, result(test, status, message, { reason: shot.reason }))
        return
      }
      const shotMs = performance.now() - started
      const queue = [...group]
      const worker = async () => {
        for (let test = queue.shift(); test; test = queue.shift()) {
          const stopped = input.working?.()
          const judged = await judge(deps, input, test, shot.dataUrl, shotMs).finally(() => stopped?.())
          await onResult(test, judged)
        }
      }
      await Promise.all(Array.from({ length: Math.min(JUDGE_CONCURRENCY, group.length) }, worker))
    }),
  )
}

/** A design test's steps before its screenshot, or undefined for the page as loaded. */
function stepsOf(test: Test): InteractiveTest['steps'] | undefined {
  const steps = test.steps as InteractiveTest['steps'] | undefined
  return Array.isArray(steps) && steps.length > 0 ? steps : undefined
}

async function judge(
  deps: DesignDeps,
  input: DesignInput,
  test: Test,
  screenshot: string,
  shotMs: number,
): Promise<TestResult> {
  const started = performance.now()
  const duration = () => Math.round((performance.now() - started + shotMs) * 100) / 100
  try {
    const testCase = { name: test.name, description: test.description }
    const answer = await judgeScreenshot(
      deps,
      // The page the screenshot shows; the judge gets it as delimited data after its instructions.
      { screenshot, testCase, htmlCode: input.files![entryPage(input.files!) ?? 'index.html'] },
      input.signal,
    )
    deps.judged?.(answer.judgment)
    return result(test, answer.judgment, answer.explanation, {
      duration_ms: duration(),
      judge_model: answer.model,
    } as Partial<TestResult>)
  } catch (error) {
    // Stopped by the grading's deadline or a client that left: the grading reports it, not this test.
    if (input.signal.aborted) return result(test, 'error', 'Stopped', { reason: 'aborted' })
    if (!(error instanceof AppError)) throw error
    deps.judged?.(error.code)
    // The client's AI tokens of the day are spent: nothing is wrong with the page.
    if (error.code === 'quota_exceeded')
      return result(test, 'skip', `Skipped: ${error.message}`, { reason: error.code })
    return result(test, 'error', error.message, { duration_ms: duration(), reason: error.code } as Partial<TestResult>)
  }
}
