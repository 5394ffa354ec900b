/**
 * The execution service: turns route inputs into runner jobs and runner outcomes into the contract's shapes.
 * Expected values of test cases stay here; only inputs go to the sandbox.
 */
import type { FrontendFiles } from '../browser'
import { AppError } from '../errors'
import { sameJson } from './compare'
import type { EndpointList, ExecuteTestsResponse, LearnerCodeFailure, TestCase, TestResult, TestSummary } from './model'
import type { CodeRunner, HarnessMessage, RunOptions, RunOutcome } from './runner'

/** Missing or empty code is a 400; code beyond the limit a 413 (docs/api.md, "API"). */
export function requireCode(code: string | undefined, field: string, maxBytes: number): string {
  if (code === undefined || code === '') {
    throw new AppError('validation_error', 400, `${field} is required and must not be empty`, {
      errors: [{ path: `/${field}`, message: 'required, non-empty' }],
    })
  }
  const size = Buffer.byteLength(code)
  if (size > maxBytes) {
    throw new AppError('payload_too_large', 413, `${field} is ${size} bytes; the limit is ${maxBytes} bytes`)
  }
  return code
}

function failure(outcome: RunOutcome, message: HarnessMessage | undefined, started: number): LearnerCodeFailure {
  const stop = outcome.stopped
  // A run we stopped (time, output) says so even if the program reported an error on its way down.
  const useStop = stop && (message?.type !== 'error' || stop.kind !== 'runtime_error')
  return {
    success: false,
    error: useStop ? stop.message : (message?.message ?? 'The program ended without a result'),
    error_type: useStop ? stop.kind : (message?.error_type ?? 'runtime_error'),
    stdout: (message?.stdout ?? '') + outcome.stdout,
    stderr: (message?.stderr ?? '') + outcome.stderr,
    ...(message?.line !== undefined ? { line: message.line } : {}),
    ...(message?.offset !== undefined ? { offset: message.offset } : {}),
    ...(message?.traceback ? { traceback: message.traceback } : {}),
    ...(message?.paths ? { available_endpoints: message.paths } : {}),
    duration_ms: elapsed(started),
  }
}

const elapsed = (started: number) => Math.round((performance.now() - started) * 100) / 100

/** What a route passes on to the runner: who asks, and the request's signal. */
export type RunContext = Pick<RunOptions, 'client' | 'signal'>

export async function listEndpoints(
  runner: CodeRunner,
  code: string,
  context: RunContext = {},
): Promise<EndpointList | LearnerCodeFailure> {
  const started = performance.now()
  const outcome = await runner.run({ op: 'parse', code }, context)
  // The harness reports last; anything earlier on its channel could have been written by the learner's code.
  const message = outcome.messages.findLast((m) => m.type === 'endpoints' || m.type === 'error')
  if (message?.type !== 'endpoints') return failure(outcome, message, started)
  return {
    success: true,
    endpoints: message.endpoints,
    count: message.endpoints.length,
    message: 'Code parsed successfully',
  }
}

export async function callEndpoint(
  runner: CodeRunner,
  code: string,
  endpoint: string,
  args: Record<string, unknown> = {},
  context: RunContext = {},
) {
  const started = performance.now()
  const outcome = await runner.run({ op: 'call', code, endpoint, args }, context)
  const message = outcome.messages.findLast((m) => m.type === 'result' || m.type === 'error')
  if (message?.type !== 'result') return failure(outcome, message, started)
  return {
    success: true as const,
    result: message.value,
    endpoint: message.endpoint as string,
    args_used: message.args_used,
    execution_method: outcome.method,
    stdout: message.stdout + outcome.stdout,
    stderr: message.stderr + outcome.stderr,
    duration_ms: elapsed(started),
  }
}

export async function validatePython(runner: CodeRunner, code: string, context: RunContext = {}) {
  const outcome = await runner.run({ op: 'validate', code }, context)
  const message = outcome.messages.at(-1)
  if (message?.type === 'valid') return { success: true, message: 'Python syntax is valid' }
  if (message?.type === 'error') {
    return {
      success: false,
      error: message.message as string,
      error_type: 'syntax_error',
      line: message.line,
      offset: message.offset,
    }
  }
  return {
    success: false,
    error: outcome.stopped?.message ?? 'Validation failed',
    error_type: outcome.stopped?.kind ?? 'runtime_error',
  }
}

/** A test case in either shape, normalised; `skip` says why it does not run here. */
interface PlannedCase {
  name: string
  endpoint?: string
  input: Record<string, unknown>
  expected: unknown
  skip?: string
}

export function planCase(test: TestCase, index: number): PlannedCase {
  const meta = test.metadata ?? {}
  const type = meta.type ?? test.type
  const endpoint = meta.endpoint ?? test.endpoint
  const name = test.name ?? `Test ${index + 1}`
  const planned = { name, endpoint, input: meta.input ?? test.input ?? {}, expected: meta.expected ?? test.expected }
  if (type && type !== 'endpoint') {
    return {
      ...planned,
      skip: `Skipped: a ${type} test is not run by the Python runner (it runs in the browser or the judge)`,
    }
  }
  if (!endpoint) return { ...planned, skip: 'Skipped: the test names no endpoint to call' }
  return planned
}

function skipResult(test: PlannedCase): TestResult {
  return {
    testName: test.name,
    status: 'skip',
    message: test.skip!,
    expected: test.expected ?? null,
    actual: null,
    duration_ms: 0,
  }
}

const show = (value: unknown) => {
  const text = JSON.stringify(value) ?? 'undefined'
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}

export function caseResult(test: PlannedCase, message: HarnessMessage | undefined, fallback: string): TestResult {
  const base = { testName: test.name, expected: test.expected ?? null, duration_ms: message?.duration_ms ?? 0 }
  const output = message ? { stdout: message.stdout ?? '', stderr: message.stderr ?? '' } : {}
  if (!message) return { ...base, status: 'error', message: fallback, actual: null, error_type: 'runtime_error' }
  if (message.error_type) {
    return {
      ...base,
      status: 'error',
      message: message.message,
      actual: null,
      error_type: message.error_type,
      ...output,
    }
  }
  const pass = sameJson(message.value, test.expected ?? null)
  return {
    ...base,
    status: pass ? 'pass' : 'fail',
    message: pass ? 'Passed' : `Expected ${show(test.expected)}, got ${show(message.value)}`,
    actual: message.value,
    ...output,
  }
}

export function summarise(results: TestResult[]): TestSummary {
  const count = (status: TestResult['status']) => results.filter((r) => r.status === status).length
  return {
    total: results.length,
    passed: count('pass'),
    failed: count('fail'),
    errors: count('error'),
    skipped: count('skip'),
  }
}

/** A task's tests to run for execute-test-cases, as the route hands them to the grading service. */
export interface TaskTestsInput {
  task: string
  tests?: string[]
  include_private?: boolean
  backendCode: string
  files?: FrontendFiles
  client: string
  signal: AbortSignal
  onResult?: (result: TestResult) => void | Promise<void>
  onStart?: () => void
}

/**
 * Runs one batch (runTestCases bound to a runner, the code and a request's signal). A promise returned by
 * `onResult` holds the batch back until it settles (a slow event-stream client).
 */
export type RunCases = (
  cases: TestCase[],
  onResult?: (result: TestResult) => void | Promise<void>,
  onStart?: () => void,
) => Promise<ExecuteTestsResponse>

/**
 * Runs a batch: skips are decided here, endpoint cases go to the sandbox in one job. `onResult` gets each
 * result as soon as it is known (skips first, then cases in the order they finish); the run reads on only once a
 * promise it returns has settled (a slow event-stream client holds the batch back, never the server's memory).
 * The first report of a case is its result; cases the run never reported get its reason (time, output, crash).
 */
export async function runTestCases(
  runner: CodeRunner,
  code: string,
  tests: TestCase[],
  onResult?: (result: TestResult) => void | Promise<void>,
  options: RunContext & Pick<RunOptions, 'onStart'> = {},
) {
  const started = performance.now()
  const planned = tests.map(planCase)
  const results: (TestResult | undefined)[] = planned.map((test) => (test.skip ? skipResult(test) : undefined))
  for (const result of results) if (result) void onResult?.(result)
  const runnable = planned.flatMap((test, index) => (test.skip ? [] : [{ test, index }]))
  if (runnable.length) {
    const cases = runnable.map(({ test }) => ({ endpoint: test.endpoint!, input: test.input }))
    // Only a whole index of this batch names a case (`runnable["constructor"]` would be Array's own function),
    // and only its first report counts.
    const caseOf = (message: HarnessMessage) => {
      if (message.type !== 'case' || !Number.isInteger(message.index)) return undefined
      const planned = runnable[message.index]
      return planned && !results[planned.index] ? planned : undefined
    }
    const record = (message: HarnessMessage) => {
      const planned = caseOf(message)
      if (!planned) return undefined
      const { test, index } = planned
      results[index] = caseResult(test, message, '')
      return results[index]
    }
    const outcome = await runner.run(
      { op: 'tests', code, cases },
      {
        ...options,
        onMessage: (message) => {
          const result = record(message)
          if (result) return onResult?.(result)
        },
      },
    )
    for (const message of outcome.messages) {
      const result = record(message) // from a runner that did not stream its messages
      if (result) void onResult?.(result)
    }
    const loadError = outcome.messages.find((m) => m.type === 'error')
    const why = loadError?.message ?? outcome.stopped?.message ?? 'The batch ended before this case finished'
    for (const { test, index } of runnable) {
      if (results[index]) continue
      const result: TestResult = {
        ...caseResult(test, undefined, why),
        error_type: loadError?.error_type ?? outcome.stopped?.kind ?? 'runtime_error',
      }
      results[index] = result
      void onResult?.(result)
    }
  }
  return batchReport(results as TestResult[], started)
}

/** The answer of a batch: its results in order, the summary, success when nothing failed or erred. */
export function batchReport(results: TestResult[], started: number) {
  const summary = summarise(results)
  return { success: summary.failed === 0 && summary.errors === 0, results, summary, duration_ms: elapsed(started) }
}
