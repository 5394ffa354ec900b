/**
 * A task's test plan: which of its tests a request grades (all public ones, some by name, private ones with
 * `include_private`), how they are split into batches, and how private results are told. Both task-grading
 * routes go through it: `/api/grade` and `execute-test-cases` with `{ task, tests?, include_private? }`, which take
 * inputs and expected values from the task store, so private tests are graded without a client ever holding them.
 *
 * Private cases run in a sandbox of their own. A case's process is handed its own input only, but every case of a
 * batch runs the learner's code in one sandbox, so cases can pass their inputs on to each other (a file in /tmp);
 * whatever a public case prints reaches the client, so it must never share a batch with a private input. The
 * results of the private batch are redacted (`hiddenResult`) before they leave, in JSON and in the event stream
 * alike, and carry no timing: a case can choose how long it runs, so a duration, or the moment its result event
 * goes out, would carry whatever it read (a sleep of byte × 20 ms gave a whole input back in one grading).
 */
import { AppError } from '../errors'
import type { ExecuteTestsResponse, TestCase, TestResult } from '../execution/model'
import { requireCaseCount } from '../execution/runner'
import { batchReport, type RunCases } from '../execution/service'
import type { LoadedTask } from '../tasks/loader'
import type { Test } from '../tasks/model'
import type { TaskStore } from '../tasks/store'

export type { RunCases }

/** Cases that run in one batch; `hidden` ones are private and answered with `hiddenResult` only. */
export interface TestPart {
  cases: TestCase[]
  /** Where each case's result goes in the whole answer. */
  positions: number[]
  hidden: boolean
}

const quoted = (names: string[]) => names.map((name) => `"${name}"`).join(', ')

/** Which tests of which task a request grades. */
export interface TaskSelection {
  /** A task's name or slug. */
  task: string
  /** Only these tests, by name (default: all). */
  tests?: string[]
  /** Private tests too; without it naming one is a 422, and the rest are left out. */
  include_private?: boolean
}

/**
 * The task and its tests a request grades, in the task's order. Unknown task: 404; unknown test names, or private
 * ones without `include_private`: 422 naming them; more than `maxCases`: 413.
 */
export async function planTask(
  store: TaskStore,
  selection: TaskSelection,
  maxCases: number,
): Promise<{ task: LoadedTask; tests: Test[] }> {
  const task = await store.find(selection.task)
  if (!task) throw new AppError('task_not_found', 404, `No task named "${selection.task}"`)
  let tests = task.tests
  if (selection.tests) {
    const known = new Set(tests.map((test) => test.name))
    const unknown = selection.tests.filter((name) => !known.has(name))
    if (unknown.length) {
      throw new AppError('test_not_found', 422, `${task.name} has no test named ${quoted(unknown)}`, { tests: unknown })
    }
    const wanted = new Set(selection.tests)
    tests = tests.filter((test) => wanted.has(test.name))
  }
  if (!selection.include_private) {
    const hidden = selection.tests ? tests.filter((test) => !test.public).map((test) => test.name) : []
    if (hidden.length) {
      throw new AppError('private_test', 422, `Private tests need include_private: true: ${quoted(hidden)}`, {
        tests: hidden,
      })
    }
    tests = tests.filter((test) => test.public)
  }
  requireCaseCount(tests.length, maxCases)
  return { task, tests }
}

/** A task's tests as batches: the public ones and the private ones apart (see the top of this file). */
export function testParts(tests: Test[]): TestPart[] {
  const parts: TestPart[] = [
    { cases: [], positions: [], hidden: false },
    { cases: [], positions: [], hidden: true },
  ]
  tests.forEach((test, position) => {
    const part = parts[test.public ? 0 : 1]!
    // Judge tests are named by kind only, so they are skipped without their criteria. Browser tests keep their
    // steps for the browser runner (when the request brings a page); no result ever carries them.
    const { name, kind, endpoint, input, expected, steps, setup } = test as typeof test &
      TestCase & { steps?: unknown; setup?: unknown }
    if (kind === 'endpoint') part.cases.push({ name, endpoint, input, expected })
    else if (kind === 'frontend_interactive')
      part.cases.push({ name, type: kind, steps, ...(setup ? { setup } : {}) } as TestCase)
    else part.cases.push({ name, type: kind })
    part.positions.push(position)
  })
  return parts.filter((part) => part.cases.length > 0)
}

const LIMIT_MESSAGES: Record<string, string> = {
  timeout: 'Hidden test ran out of time',
  memory_limit: 'Hidden test ran out of memory',
  output_limit: 'Hidden test wrote too much output',
}

/**
 * A private test's result: its name, status, a fixed message and the kind of limit it hit. Never the expected
 * value, the actual value, output, a traceback or the learner's error message (each could repeat the input), and
 * a duration of 0: learner code decides how long its case runs, so any measured time could carry data.
 */
export function hiddenResult(result: TestResult): TestResult {
  const limit = result.error_type ? LIMIT_MESSAGES[result.error_type] : undefined
  const message = {
    pass: 'Hidden test passed',
    fail: 'Hidden test failed',
    error: limit ?? 'Hidden test raised an error',
    skip: 'Hidden test skipped: browser and judge tests are not run on the server',
  }[result.status]
  return {
    testName: result.testName,
    status: result.status,
    message,
    expected: null,
    actual: null,
    duration_ms: 0,
    ...(result.status === 'error' ? { error_type: limit ? result.error_type : 'runtime_error' } : {}),
    private: true,
  }
}

/**
 * Runs the parts one after another (a client's batches take one slot at a time) and merges their results in
 * the order of the task. A single public part is answered exactly as the batch reports it. A private part's results
 * go to `onResult` only once its whole batch has ended, in the order of the task: streamed as each case ended,
 * their order and arrival times would tell how long each ran.
 */
export async function runTestParts(
  parts: TestPart[],
  runCases: RunCases,
  onResult?: (result: TestResult) => void | Promise<void>,
  onStart?: () => void,
): Promise<ExecuteTestsResponse> {
  if (parts.length === 1 && !parts[0]!.hidden) return runCases(parts[0]!.cases, onResult, onStart)
  const started = performance.now()
  const results: TestResult[] = []
  let announced = false
  // A part of skips only never starts a batch, so whichever part starts first says so.
  const startOnce = () => {
    if (!announced) onStart?.()
    announced = true
  }
  for (const part of parts) {
    const shown = (result: TestResult) => (part.hidden ? hiddenResult(result) : result)
    const live = onResult && !part.hidden ? onResult : undefined
    const report = await runCases(part.cases, live, startOnce)
    const merged = report.results.map(shown)
    merged.forEach((result, i) => {
      results[part.positions[i]!] = result
    })
    if (onResult && part.hidden) for (const result of merged) await onResult(result)
  }
  return batchReport(results, started)
}
