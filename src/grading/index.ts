/**
 * Grading feature: POST /api/grade grades a whole task (endpoint, browser and design tests) on the server and
 * answers JSON, or an event stream with `Accept: text/event-stream` (docs/grading.md, "Grading").
 */
import { Elysia } from 'elysia'
import type { Quotas } from '../access/quotas'
import type { RateLimiter } from '../access/rate-limit'
import type { Identify } from '../http/client'
import { envelope, errorResponses, toAppError } from '../errors'
import { frontendFiles } from '../execution/browser-cases'
import { reportStream } from '../http/event-stream'
import { requireCode } from '../execution/service'
import type { SaveOutcome } from '../execution/model'
import { GradeRequest, GradeResponse } from './model'
import { planTask } from './plan'
import { gradeTask, type GradeDeps, type GradeInput } from './service'

export interface GradingDeps extends Omit<GradeDeps, 'rateLimits' | 'quotas'> {
  identify: Identify
  rateLimits: RateLimiter
  /** AI tokens of the day for design tests, and requests in flight per client, as the judge and execution routes. */
  quotas?: Pick<Quotas, 'budget' | 'maxTokens' | 'hold'>
  /** Keeps a finished grading as the caller's attempt (src/learners) and says whether it is committed. */
  saveAttempt?: (
    request: Request,
    grade: {
      task: string
      files: { backendCode?: string; frontendCode?: Record<string, string> }
      include_private: boolean
      response: GradeResponse
    },
  ) => Promise<SaveOutcome>
}

const DESCRIPTION =
  "Runs a task's endpoint tests in the Python sandbox (with `backendCode`), its browser tests " +
  '(frontend_interactive) in a headless browser against `frontendCode`, and its design tests by showing a ' +
  'screenshot of that page to the vision judge JUDGE_MODEL. A test that cannot run is `skip` with a `reason`: ' +
  'no_backend_code, no_frontend_code, browser_unavailable, judge_unavailable, rate_limited (design tests take ' +
  'one request of RATE_JUDGE_PER_MIN per grading). Private tests run with ' +
  '`include_private` and are answered with status and a fixed message only. Answers every result (`group`: ' +
  'backend | frontend | html), a summary per group, an overall summary and a `score` over the tests that ran. ' +
  'At most EXEC_MAX_CASES tests (413), GRADE_TIMEOUT_MS in all (unfinished tests are timeout errors), ' +
  'frontendCode up to MAX_CODE_BYTES. With `Accept: text/event-stream`: one `result` event per test as it ' +
  'finishes, then one `summary` event (the answer without `results`), or `error` with the error envelope.'

export const grading = (deps: GradingDeps) =>
  new Elysia({ name: 'grading', tags: ['Grading'] }).post(
    '/api/grade',
    async ({ body, request, server }) => {
      const { config, logger } = deps
      const selection = { task: body.task, include_private: body.include_private }
      const { task, tests } = await planTask(deps.tasks, selection, config.EXEC_MAX_CASES)
      const backendCode = body.backendCode
        ? requireCode(body.backendCode, 'backendCode', config.MAX_CODE_BYTES)
        : undefined
      const files =
        body.frontendCode === undefined ? undefined : frontendFiles(body.frontendCode, config.MAX_CODE_BYTES)
      const client = deps.identify(request, server)
      const budget = deps.quotas?.budget(request, server)
      const input: GradeInput = { task, tests, backendCode, files, client, signal: request.signal, budget }
      // One of the client's places (CONCURRENT_EXECUTIONS_PER_CLIENT) for the whole grading, as execute-test-cases.
      const release = deps.quotas ? await deps.quotas.hold(request, server, 'executions') : () => {}
      // The answer (or the stream's summary) waits until the attempt is committed.
      const saved = async (response: GradeResponse): Promise<GradeResponse> => {
        if (!deps.saveAttempt) return response
        if (body.save === false) return { ...response, attempt_id: null, saved: false }
        const sent = { backendCode: body.backendCode, frontendCode: body.frontendCode as Record<string, string> }
        const grade = { task: task.slug, files: sent, include_private: body.include_private ?? false, response }
        return { ...response, ...(await deps.saveAttempt(request, grade)) }
      }
      if (!request.headers.get('accept')?.includes('text/event-stream'))
        return gradeTask(deps, input).then(saved).finally(release)
      // As execute-test-cases streams: a 200 stream only once the endpoint batch has its slot (reportStream).
      const stream = reportStream(
        (send, admitted) => gradeTask(deps, { ...input, onResult: send, onStart: admitted }).then(saved),
        {
          summary: ({ results: _, ...summary }) => summary,
          error: (error) => envelope(request, toAppError('', error, request, logger)),
          settled: release,
        },
      )
      // A raw Response bypasses the 200 schema on purpose (it is the streamed form of the same answer).
      return (await stream) as never
    },
    {
      body: GradeRequest,
      response: { 200: GradeResponse, ...errorResponses(400, 404, 413, 429, 503) },
      detail: { summary: 'Grade a whole task: endpoint, browser and design tests', description: DESCRIPTION },
    },
  )
