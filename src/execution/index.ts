/**
 * Execution feature: the CodeRunner built from configuration and the routes that run learners' Python
 * (CONTRACT.md, "Python execution").
 */
import { Elysia } from 'elysia'
import type { Config } from '../config'
import { errorResponses, envelope, toAppError } from '../errors'
import type { Logger } from '../logging'
import type { Sandbox } from '../sandbox'
import type { TaskStore } from '../tasks/store'
import { createLocalRunner } from './local-runner'
import {
  ExecuteEndpointRequest,
  ExecuteEndpointResponse,
  ExecuteTestsRequest,
  ExecuteTestsResponse,
  ValidateRequest,
  ValidateResponse,
} from './model'
import { createOneCompilerRunner } from './onecompiler-runner'
import type { CodeRunner } from './runner'
import { callEndpoint, listEndpoints, requireCode, runTestCases, validatePython } from './service'
import { planTestParts, runTestParts, type RunCases } from './task-cases'

export function createCodeRunner(config: Config, logger: Logger, sandbox: Sandbox): CodeRunner {
  if (!config.USE_LOCAL_EXECUTION) return createOneCompilerRunner({ config, logger })
  return createLocalRunner({ config, logger, sandbox })
}

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

export interface ExecutionDeps {
  config: Config
  runner: CodeRunner
  logger: Logger
  /** Where `execute-test-cases` with `task` finds the task's tests (private ones included). */
  tasks: TaskStore
}

export const execution = ({ config, runner, logger, tasks }: ExecutionDeps) =>
  new Elysia({ name: 'execution', tags: ['Python execution'] })
    .post(
      '/api/execute-endpoint',
      ({ body }) => {
        const code = requireCode(body.pythonCode, 'pythonCode', config.MAX_CODE_BYTES)
        if (body.endpoint === undefined || body.endpoint === '') return listEndpoints(runner, code)
        return callEndpoint(runner, code, body.endpoint, body.args)
      },
      {
        body: ExecuteEndpointRequest,
        response: { 200: ExecuteEndpointResponse, ...errorResponses(400, 413, 503) },
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
      async ({ body, request }) => {
        const code = requireCode(body.backendCode, 'backendCode', config.MAX_CODE_BYTES)
        const parts = await planTestParts(tasks, body)
        const runCases: RunCases = (cases, onResult, onStart) =>
          runTestCases(runner, code, cases, onResult, request.signal, onStart)
        if (!request.headers.get('accept')?.includes('text/event-stream')) return runTestParts(parts, runCases)
        // Progress: one `result` event per finished case, then `summary` (or `error` with the envelope).
        // A refusal (503 queue_full with Retry-After, sandbox_unavailable) must stay a status, not become an event
        // of a 200 stream: the batch starts first, and the stream opens once it has its slot (or is already done).
        const early: string[] = []
        let emit = (event: string, data: unknown): void => void early.push(sse(event, data))
        const admitted = Promise.withResolvers<void>()
        const report = runTestParts(parts, runCases, (r) => emit('result', r), admitted.resolve)
        await Promise.race([admitted.promise, report])
        const encoder = new TextEncoder()
        const stream = new ReadableStream<Uint8Array>({
          async start(controller) {
            const send = (event: string, data: unknown) => controller.enqueue(encoder.encode(sse(event, data)))
            for (const text of early) controller.enqueue(encoder.encode(text))
            emit = send
            try {
              send('summary', await report)
            } catch (error) {
              send('error', envelope(request, toAppError('', error, request, logger)))
            }
            controller.close()
          },
        })
        const headers = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }
        // A raw Response bypasses the 200 schema on purpose (it is the streamed form of the same report).
        return new Response(stream, { headers }) as never
      },
      {
        body: ExecuteTestsRequest,
        response: { 200: ExecuteTestsResponse, ...errorResponses(400, 404, 413, 503) },
        detail: {
          summary: 'Run test cases against learner code',
          description:
            'Each endpoint case runs from freshly loaded module state, several in parallel, each with its own time ' +
            'limit; expected values never enter the sandbox. Tests may be wrapped in `metadata` or flat. Non-endpoint ' +
            'tests are skipped. With `task` instead of `testCases`, the task\'s own tests run (by name with `tests`; ' +
            'private ones with `include_private`, in a sandbox of their own, answered with status and a generic ' +
            'message only); unknown task 404, unknown test 422. With `Accept: text/event-stream` the answer streams ' +
            'a `result` event per finished case, then a `summary` event with the whole report.',
        },
      },
    )
    .post(
      '/api/validate-python',
      ({ body }) => validatePython(runner, requireCode(body.pythonCode, 'pythonCode', config.MAX_CODE_BYTES)),
      {
        body: ValidateRequest,
        response: { 200: ValidateResponse, ...errorResponses(400, 413, 503) },
        detail: {
          summary: 'Check Python syntax',
          description: 'Compiles without running; a syntax error reports the line and column of the learner code.',
        },
      },
    )
