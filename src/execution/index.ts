/**
 * Execution feature: the CodeRunner built from configuration and the routes that run learners' Python
 * (docs/api.md, "Python execution").
 */
import { Elysia } from 'elysia'
import type { Server } from 'elysia/universal'
import type { LocalRunnerSettings } from './local-runner'
import type { OneCompilerSettings } from './onecompiler-runner'
import { AppError, errorResponses, envelope, toAppError } from '../errors'
import type { Logger } from '../logging'
import type { Sandbox } from '../sandbox'
import { createLocalRunner } from './local-runner'
import {
  type SaveOutcome,
  ExecuteEndpointRequest,
  ExecuteEndpointResponse,
  ExecuteTestsRequest,
  ExecuteTestsResponse,
  type TestResult,
  ValidateRequest,
  ValidateResponse,
} from './model'
import { createOneCompilerRunner } from './onecompiler-runner'
import { requireCaseCount, type CodeRunner } from './runner'
import { reportStream } from '../http/event-stream'
import type { Identify } from '../http/client'
import type { Quotas } from '../access/quotas'
import {
  callEndpoint,
  listEndpoints,
  requireCode,
  runTestCases,
  validatePython,
  type RunCases,
  type TaskTestsInput,
} from './service'
import { frontendFiles, withBrowserCases } from './browser-cases'
import type { BrowserRunner } from '../browser'

/** The settings this module reads (src/config.ts documents each). */
export interface ExecutionSettings extends LocalRunnerSettings, OneCompilerSettings {
  USE_LOCAL_EXECUTION: boolean
  MAX_CODE_BYTES: number
}

export function createCodeRunner(config: ExecutionSettings, logger: Logger, sandbox: Sandbox): CodeRunner {
  if (!config.USE_LOCAL_EXECUTION) return createOneCompilerRunner({ config, logger })
  return createLocalRunner({ config, logger, sandbox })
}

const invalid = (message: string) =>
  new AppError('validation_error', 422, message, { errors: [{ path: '/testCases', message }] })

export interface ExecutionDeps {
  config: ExecutionSettings
  runner: CodeRunner
  logger: Logger
  /**
   * `execute-test-cases` with `task`: the grading service (src/grading) runs the task's own tests, private ones
   * included, by its test plan; execution runs only a client's own `testCases`.
   */
  taskTests: (input: TaskTestsInput) => Promise<ExecuteTestsResponse>
  /** Who is calling: the execution slots are shared fairly between clients. */
  identify: Identify
  /** Requests in flight per client (CONCURRENT_EXECUTIONS_PER_CLIENT): 429 quota_exceeded beyond. */
  quotas?: Pick<Quotas, 'hold'>
  /** Runs browser tests when a request brings the learner's page (`frontendCode`). */
  browser: BrowserRunner
  /** With a task and `save: true`, keeps the report as the caller's attempt (src/learners). */
  saveTestRun?: (
    request: Request,
    run: {
      task: string
      files: { backendCode?: string; frontendCode?: Record<string, string> }
      include_private: boolean
      report: ExecuteTestsResponse
    },
  ) => Promise<SaveOutcome>
}

export const execution = ({
  config,
  runner,
  logger,
  taskTests,
  identify,
  quotas,
  browser,
  saveTestRun,
}: ExecutionDeps) => {
  const noPlace = async () => () => {}
  /** One of the client's places for the whole request; `finally` gives it back on every path (error, abort, timeout). */
  const place = (request: Request, server: Server | null) =>
    quotas ? quotas.hold(request, server, 'executions') : noPlace()
  const held = async <T>(request: Request, server: Server | null, work: () => Promise<T>): Promise<T> => {
    const release = await place(request, server)
    try {
      return await work()
    } finally {
      release()
    }
  }
  /** With a task and `save: true`, the answer (or the stream's summary) waits until the attempt is committed. */
  const saving =
    (body: ExecuteTestsRequest, request: Request) =>
    async (report: ExecuteTestsResponse): Promise<ExecuteTestsResponse> => {
      if (!saveTestRun || body.save !== true || body.task === undefined) return report
      const sent = { backendCode: body.backendCode, frontendCode: body.frontendCode as Record<string, string> }
      const run = { task: body.task, files: sent, include_private: body.include_private ?? false, report }
      return { ...report, ...(await saveTestRun(request, run)) }
    }
  return new Elysia({ name: 'execution', tags: ['Python execution'] })
    .post(
      '/api/execute-endpoint',
      ({ body, request, server }) => {
        const code = requireCode(body.pythonCode, 'pythonCode', config.MAX_CODE_BYTES)
        const context = { client: identify(request, server), signal: request.signal }
        if (body.endpoint === undefined || body.endpoint === '')
          return held(request, server, () => listEndpoints(runner, code, context))
        const endpoint = body.endpoint
        return held(request, server, () => callEndpoint(runner, code, endpoint, body.args, context))
      },
      {
        body: ExecuteEndpointRequest,
        response: { 200: ExecuteEndpointResponse, ...errorResponses(400, 413, 429, 503) },
        detail: {
          summary: 'List or call @endpoint functions',
          description:
            'Without `endpoint`: parses the code (never runs it) and lists its @endpoint functions. With `endpoint` ' +
            '(a path, else a function name): runs the code in the sandbox and calls that function with `args`. ' +
            'Failures of the learner code are 200 with `success: false` and `error_type` runtime_error | timeout | ' +
            'memory_limit | output_limit | syntax_error | endpoint_not_found.',
        },
      },
    )
    .post(
      '/api/execute-test-cases',
      async ({ body, request, server }) => {
        const code = requireCode(body.backendCode, 'backendCode', config.MAX_CODE_BYTES)
        if ((body.testCases === undefined) === (body.task === undefined)) {
          throw invalid('Send exactly one of testCases (your own cases) or task (a task name or slug)')
        }
        const files =
          body.frontendCode === undefined ? undefined : frontendFiles(body.frontendCode, config.MAX_CODE_BYTES)
        const context = { client: identify(request, server), signal: request.signal }
        const { task, testCases } = body
        const run = (onResult?: (result: TestResult) => void | Promise<void>, onStart?: () => void) => {
          if (task !== undefined) {
            const selection = { task, tests: body.tests, include_private: body.include_private }
            return taskTests({ ...selection, backendCode: code, files, ...context, onResult, onStart })
          }
          const cases = testCases!
          requireCaseCount(cases.length, config.EXEC_MAX_CASES)
          const runCases: RunCases = withBrowserCases(
            (batch, report, started) => runTestCases(runner, code, batch, report, { ...context, onStart: started }),
            files && { browser, files, backendCode: code, ...context, deadlineMs: config.EXEC_BATCH_TIMEOUT_MS },
          )
          return runCases(cases, onResult, onStart)
        }
        const saved = saving(body, request)
        if (!request.headers.get('accept')?.includes('text/event-stream'))
          return held(request, server, async () => saved(await run()))
        // A stream holds its place until the batch is over, long after this handler returned.
        const release = await place(request, server)
        // Progress: one `result` event per finished case, then `summary` (reportStream says when it becomes a 200).
        const stream = reportStream((send, admitted) => run(send, admitted).then(saved), {
          summary: (report) => report,
          error: (error) => envelope(request, toAppError('', error, request, logger)),
          settled: release,
        })
        // A raw Response bypasses the 200 schema on purpose (it is the streamed form of the same report).
        return (await stream) as never
      },
      {
        body: ExecuteTestsRequest,
        response: { 200: ExecuteTestsResponse, ...errorResponses(400, 404, 413, 429, 503) },
        detail: {
          summary: 'Run test cases against learner code',
          description:
            'Each endpoint case runs from freshly loaded module state, several in parallel, each with its own time ' +
            'limit; expected values never enter the sandbox. Tests may be wrapped in `metadata` or flat. Browser tests ' +
            '(frontend_interactive) run in a headless browser when `frontendCode` is given (each result then carries ' +
            "`steps`, and a failed one a `screenshot`), else they are skipped, as are judge tests. With `task` instead of `testCases`, the task's own tests run (by name with `tests`; " +
            'private ones with `include_private`, in a sandbox of their own, answered with status and a generic ' +
            'message only); unknown task 404, unknown test 422. At most EXEC_MAX_CASES cases (413 too_many_cases); ' +
            'a batch has EXEC_BATCH_TIMEOUT_MS in all, and cases it did not reach are `timeout` errors. With ' +
            '`Accept: text/event-stream` the answer streams a `result` event per finished case, then a `summary` ' +
            'event with the whole report; a client that does not read holds back its own batch, not the server.',
        },
      },
    )
    .post(
      '/api/validate-python',
      ({ body, request, server }) => {
        const code = requireCode(body.pythonCode, 'pythonCode', config.MAX_CODE_BYTES)
        return held(request, server, () =>
          validatePython(runner, code, { client: identify(request, server), signal: request.signal }),
        )
      },
      {
        body: ValidateRequest,
        response: { 200: ValidateResponse, ...errorResponses(400, 413, 429, 503) },
        detail: {
          summary: 'Check Python syntax',
          description: 'Compiles without running; a syntax error reports the line and column of the learner code.',
        },
      },
    )
}
