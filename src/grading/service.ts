/**
 * Grading a whole task: its endpoint tests in the Python sandbox, its browser tests in the browser runner and
 * its design tests through the judge, all three groups at once, within GRADE_TIMEOUT_MS. Private tests are
 * graded like the others and answered with a status and a fixed message only (src/grading/plan.ts
 * redacts endpoint results; `hidden` below redacts browser and design results the same way).
 */
import type { BrowserRunner, FrontendFiles } from '../browser'
import { runBrowserCase, withBrowserCases, type BrowserContext } from '../execution/browser-cases'
import type { ExecuteTestsResponse, TestResult } from '../execution/model'
import type { CodeRunner } from '../execution/runner'
import { runTestCases, summarise, type TaskTestsInput } from '../execution/service'
import { workClock } from '../execution/work-clock'
import { hiddenResult, planTask, runTestParts, testParts, type RunCases } from './plan'
import type { Logger } from '../logging'
import type { Quotas } from '../access/quotas'
import type { RateLimiter } from '../access/rate-limit'
import type { TokenBudget } from '../access/token-budget'
import type { Metrics } from '../metrics'
import type { ProviderRegistry } from '../providers/provider'
import type { LoadedTask } from '../tasks/loader'
import { TITLE_PREFIX, type Test } from '../tasks/model'
import type { TaskStore } from '../tasks/store'
import { runDesignTests } from './design-tests'
import { GROUPS, type GradeGroup, type GradeResponse, type GradeResult, type GradeSummary } from './model'

/** The settings this module reads (src/config.ts documents each). */
export interface GradingSettings {
  EXEC_BATCH_TIMEOUT_MS: number
  EXEC_MAX_CASES: number
  MAX_CODE_BYTES: number
  GRADE_TIMEOUT_MS: number
  JUDGE_MODEL: string
  RATE_JUDGE_PER_MIN: number
}

export interface GradeDeps {
  config: GradingSettings
  runner: CodeRunner
  tasks: TaskStore
  browser: BrowserRunner
  providers: ProviderRegistry
  logger: Logger
  rateLimits?: RateLimiter
  /** The judge's token cap (AI_MAX_TOKENS); the client's budget comes with each input. */
  quotas?: Pick<Quotas, 'maxTokens'>
  metrics?: Pick<Metrics, 'judged'>
}

export interface GradeInput {
  task: LoadedTask
  /** The tests to grade, in the task's order (private ones only when asked for). */
  tests: Test[]
  backendCode?: string
  files?: FrontendFiles
  client: string
  signal: AbortSignal
  /** The client's AI tokens of the day, charged for every judge call (src/access/quotas.ts). */
  budget?: TokenBudget
  /** Each result as soon as it is known; a returned promise holds that part of the grading back (a slow reader). */
  onResult?: (result: GradeResult) => void | Promise<void>
  /** Called once nothing can be refused any more (the endpoint batch has its sandbox slot, or there is none). */
  onStart?: () => void
}

/** The test folder a test came from, by the title prefix the loader gives it (src/tasks/loader.ts). */
export function groupOf(test: Test): GradeGroup {
  return (
    GROUPS.find((group) => test.title.startsWith(TITLE_PREFIX[group])) ??
    (test.kind === 'endpoint' ? 'backend' : 'html')
  )
}

const SKIP_REASONS = new Set([
  'no_backend_code',
  'no_frontend_code',
  'browser_unavailable',
  'judge_unavailable',
  'rate_limited',
  'quota_exceeded',
])

/** A private browser or design test's result: as plan.ts answers a private endpoint test. */
function hidden(result: TestResult): TestResult {
  const shown = hiddenResult(result)
  if (result.status !== 'skip') return shown
  const reason = result.reason && SKIP_REASONS.has(result.reason) ? result.reason : undefined
  return { ...shown, message: 'Hidden test skipped', ...(reason ? { reason } : {}) }
}

const skipped = (test: Test, reason: string, message: string): TestResult => ({
  testName: test.name,
  status: 'skip',
  message,
  expected: null,
  actual: null,
  duration_ms: 0,
  reason,
})

/** The summary of a finished grading: per group, overall, and the score over the tests that ran. */
export function gradeSummary(task: LoadedTask, results: GradeResult[], started: number): GradeSummary {
  const summary = summarise(results)
  const groups = Object.fromEntries(GROUPS.map((group) => [group, summarise(results.filter((r) => r.group === group))]))
  const graded = summary.total - summary.skipped
  return {
    task: task.name,
    success: summary.failed === 0 && summary.errors === 0,
    groups: groups as GradeSummary['groups'],
    summary,
    score: {
      passed: summary.passed,
      graded,
      total: summary.total,
      percent: graded ? Math.round((1000 * summary.passed) / graded) / 10 : 0,
    },
    duration_ms: Math.round((performance.now() - started) * 100) / 100,
  }
}

/**
 * Grades the tests of `input`. Stops everything at GRADE_TIMEOUT_MS (or when the client leaves) and reports
 * what had not finished as `timeout` errors. A refusal of the endpoint batch (queue_full, sandbox_unavailable)
 * fails the whole grading, so a client sees it as a status and can retry.
 */
export async function gradeTask(deps: GradeDeps, input: GradeInput): Promise<GradeResponse> {
  const started = performance.now()
  const { task, tests } = input
  const stop = new AbortController()
  // GRADE_TIMEOUT_MS of work: time the grading only waits for a browser slot (a class grading at once) is not counted.
  const clock = workClock(deps.config.GRADE_TIMEOUT_MS)
  const signal = AbortSignal.any([input.signal, stop.signal, clock.signal])
  const results: (GradeResult | undefined)[] = new Array(tests.length)
  const position = new Map(tests.map((test, index) => [test.name, index]))
  let over = false

  const record = async (test: Test, result: TestResult) => {
    const index = position.get(test.name)!
    if (over || results[index]) return
    const shown = test.public ? result : hidden(result)
    const graded: GradeResult = { ...shown, testName: test.name, group: groupOf(test), kind: test.kind }
    results[index] = graded
    await input.onResult?.(graded)
  }
  const ofKind = (kind: Test['kind']) => tests.filter((test) => test.kind === kind)

  /** Work that runs as soon as it is asked (not in a browser slot) counts from its start to its end. */
  const counted = async (work: Promise<void>) => {
    const stopped = clock.running()
    try {
      await work
    } finally {
      stopped()
    }
  }
  const work = Promise.all([
    counted(endpointTests(deps, input, ofKind('endpoint'), signal, record)),
    browserTests(deps, input, ofKind('frontend_interactive'), signal, record, clock.running),
    runDesignTests(
      {
        browser: deps.browser,
        providers: deps.providers,
        model: deps.config.JUDGE_MODEL,
        logger: deps.logger,
        judgeAllowed: async () =>
          (await deps.rateLimits?.take(input.client, 'judge', deps.config.RATE_JUDGE_PER_MIN))?.allowed ?? true,
        maxTokens: deps.quotas?.maxTokens,
        budget: input.budget,
        judged: deps.metrics?.judged,
      },
      {
        tests: ofKind('judge'),
        files: input.files,
        backendCode: input.backendCode,
        client: input.client,
        signal,
        working: clock.running,
      },
      record,
    ),
  ])
  const timedOut = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
  try {
    await Promise.race([work, timedOut])
  } finally {
    stop.abort() // whatever still runs (a browser test, a judge call) stops now
    clock.close()
  }
  over = true // late results of stopped work are dropped from here on
  const message = input.signal.aborted
    ? 'The client left before this test finished'
    : 'Grading ran out of time (GRADE_TIMEOUT_MS) before this test finished'
  for (const [index, test] of tests.entries()) {
    if (results[index]) continue
    const late: TestResult = {
      testName: test.name,
      status: 'error',
      message,
      expected: null,
      actual: null,
      duration_ms: 0,
      error_type: 'timeout',
    }
    results[index] = { ...(test.public ? late : hidden(late)), group: groupOf(test), kind: test.kind }
    await input.onResult?.(results[index])
  }
  const finished = results as GradeResult[]
  return { ...gradeSummary(task, finished, started), results: finished }
}

type Recorder = (test: Test, result: TestResult) => Promise<void>

/** The task's endpoint tests, by the task's test plan (private ones in a batch of their own). */
async function endpointTests(deps: GradeDeps, input: GradeInput, tests: Test[], signal: AbortSignal, record: Recorder) {
  const byName = new Map(tests.map((test) => [test.name, test]))
  if (tests.length === 0 || !input.backendCode) {
    input.onStart?.()
    const message = 'Skipped: no backendCode was sent'
    for (const test of tests) await record(test, skipped(test, 'no_backend_code', message))
    return
  }
  const code = input.backendCode
  const parts = testParts(tests)
  const runCases: RunCases = (cases, onResult, onStart) =>
    runTestCases(deps.runner, code, cases, onResult, { client: input.client, signal, onStart })
  // runTestParts hands out private results already redacted; `record` would not reveal more anyway.
  await runTestParts(parts, runCases, (result) => record(byName.get(result.testName)!, result), input.onStart)
}

async function browserTests(
  deps: GradeDeps,
  input: GradeInput,
  tests: Test[],
  signal: AbortSignal,
  record: Recorder,
  onSlot: () => () => void,
) {
  if (!input.files) {
    const message = 'Skipped: no frontendCode was sent'
    for (const test of tests) await record(test, skipped(test, 'no_frontend_code', message))
    return
  }
  const context: BrowserContext = {
    browser: deps.browser,
    files: input.files,
    backendCode: input.backendCode,
    client: input.client,
    signal,
    onSlot,
  }
  await Promise.all(tests.map(async (test) => record(test, await runBrowserCase(context, test as never, test.name))))
}

/**
 * `execute-test-cases` with a task: the task's tests by the same plan as a grading (./plan.ts), answered as a test
 * batch: endpoint tests in the sandbox, browser tests when the request brings the page, judge tests skipped.
 */
export async function runTaskTests(deps: GradeDeps, input: TaskTestsInput): Promise<ExecuteTestsResponse> {
  const { tests } = await planTask(deps.tasks, input, deps.config.EXEC_MAX_CASES)
  const context = { client: input.client, signal: input.signal }
  const runCases: RunCases = withBrowserCases(
    (cases, onResult, onStart) =>
      runTestCases(deps.runner, input.backendCode, cases, onResult, { ...context, onStart }),
    input.files && {
      browser: deps.browser,
      files: input.files,
      backendCode: input.backendCode,
      deadlineMs: deps.config.EXEC_BATCH_TIMEOUT_MS,
      ...context,
    },
  )
  return runTestParts(testParts(tests), runCases, input.onResult, input.onStart)
}
