/**
 * The audit line of a request that runs learner code (execute-endpoint, execute-test-cases, validate-python,
 * grade, start-python-server): one `code run` line per request with route, status, outcome, number of sandbox runs,
 * duration and code size; request_id and client come with every line of a request (src/logging.ts). The code
 * itself is logged only with LOG_LEVEL=debug: it is the learner's work, and often pasted secrets.
 *
 * A streamed test batch answers before its runs end, so the line waits for the request's last run: the
 * runner wrapper below counts the runs in flight per request.
 *
 * @example
 * app.use(codeRunAudit(logger, { includeCode: config.LOG_LEVEL === 'debug' }))
 * const runner = auditedRunner(createCodeRunner(config, logger, sandbox))
 */
import { Elysia } from 'elysia'
import { answeredError, AppError } from '../errors'
import type { CodeRunner } from '../execution/runner'
import { currentRequest, type Logger } from '../logging'
import { outcomeOf } from './runner'
import { requestUrl } from '../http/request-url'
import { canonicalPath } from '../http/routes'

export const AUDITED_ROUTES = new Set([
  '/api/execute-endpoint',
  '/api/execute-test-cases',
  '/api/validate-python',
  '/api/grade',
  '/api/start-python-server',
])

interface Audit {
  start: number
  /** Outcome of each finished sandbox run: success or the error_type. */
  runs: string[]
  inFlight: number
  /** Set once the response is out; the line is written when no run is left either. */
  write?: () => void
}

const audits = new WeakMap<Request, Audit>()

function settle(audit: Audit) {
  if (!audit.write || audit.inFlight > 0) return
  // A batch in parts starts its next run in a later turn of the same promise chain: look again before writing.
  setImmediate(() => {
    if (audit.inFlight > 0 || !audit.write) return
    const write = audit.write
    audit.write = undefined
    write()
  })
}

/** Records the outcome of every run against the request it serves. */
export function auditedRunner(runner: CodeRunner): CodeRunner {
  return {
    method: runner.method,
    async run(job, options) {
      const request = currentRequest()
      const audit = request && audits.get(request)
      if (!audit) return runner.run(job, options)
      audit.inFlight++
      try {
        const outcome = await runner.run(job, options)
        audit.runs.push(outcomeOf(outcome))
        return outcome
      } catch (error) {
        audit.runs.push(error instanceof AppError ? error.code : 'error')
        throw error
      } finally {
        audit.inFlight--
        settle(audit)
      }
    },
    health: () => runner.health(),
    warmUp: () => runner.warmUp?.() ?? Promise.resolve(),
    close: () => runner.close(),
  }
}

/** What the client was told when no run says more: the error_type of a refusal or of a `success: false` answer. */
function answeredOutcome(request: Request, status: number, answer: unknown): string {
  const refused = answeredError(request)
  if (refused) return refused
  const said = answer as { error_type?: unknown; success?: unknown } | undefined
  if (said?.success === false && typeof said.error_type === 'string') return said.error_type
  return status >= 400 ? `http_${status}` : 'success'
}

const codeOf = (body: unknown): string => {
  const { pythonCode, backendCode } = (body ?? {}) as { pythonCode?: unknown; backendCode?: unknown }
  const code = pythonCode ?? backendCode
  return typeof code === 'string' ? code : ''
}

export interface AuditOptions {
  includeCode: boolean
  /** The route a path belongs to (src/http/routes.ts), so `/api/grade/` is audited as `/api/grade`. */
  routeOf?: (path: string) => string | undefined
}

export const codeRunAudit = (logger: Logger, { includeCode, routeOf = canonicalPath }: AuditOptions) =>
  new Elysia({ name: 'code-run-audit' })
    .onRequest(({ request }) => {
      if (request.method !== 'POST') return
      const route = routeOf(requestUrl(request).pathname)
      if (route && AUDITED_ROUTES.has(route)) audits.set(request, { start: performance.now(), runs: [], inFlight: 0 })
    })
    .onAfterResponse({ as: 'global' }, ({ request, set, path, body, responseValue }) => {
      const audit = audits.get(request)
      if (!audit) return
      const status = typeof set.status === 'number' ? set.status : 200
      const code = codeOf(body)
      audit.write = () => {
        const failed = audit.runs.find((outcome) => outcome !== 'success')
        logger.info('code run', {
          route: routeOf(path) ?? path,
          status,
          outcome: audit.runs.length ? (failed ?? 'success') : answeredOutcome(request, status, responseValue),
          runs: audit.runs.length,
          duration_ms: Math.round((performance.now() - audit.start) * 100) / 100,
          code_bytes: Buffer.byteLength(code),
          ...(includeCode ? { code } : {}),
        })
      }
      settle(audit)
    })
