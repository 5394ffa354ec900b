/**
 * One error envelope for every 4xx/5xx (docs/api.md, "Errors"). Features throw `AppError`; the `errors` plugin
 * renders it, maps Elysia's own failures (validation, unknown route, bad JSON) onto it, and turns anything
 * unexpected into a 500 whose details go to the log, never to the client.
 *
 * @example
 * throw new AppError('endpoint_not_found', 404, 'No endpoint /x; have: /a, /b')
 */
import { Elysia, t, type TSchema } from 'elysia'
import type { Logger } from './logging'
import { requestId } from './logging'

/** A request's path; HTTP/1.0 requests without a Host header have a bare path as their URL (src/http/request-url.ts). */
const pathOf = (request: Request) => new URL(request.url, 'http://localhost').pathname

export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message)
    this.name = 'AppError'
  }
}

export const ErrorEnvelope = t.Object(
  {
    success: t.Literal(false),
    error: t.String({ description: 'A human sentence saying what went wrong.' }),
    error_type: t.String({ description: 'Stable snake_case code, e.g. validation_error, not_found.' }),
    request_id: t.String({ description: 'Same as the x-request-id response header.' }),
    details: t.Optional(t.Record(t.String(), t.Unknown())),
  },
  { title: 'ErrorEnvelope', description: 'The body of every 4xx/5xx response.' },
)
export type ErrorEnvelope = typeof ErrorEnvelope.static

/**
 * Response schemas for the error statuses a route can answer, for its `response` option, so the OpenAPI
 * document shows the envelope. 413, 422 and 500 apply to every route with a body and are always included.
 *
 * @example
 * app.post('/x', handler, { body: X, response: { 200: XResult, ...errorResponses(400, 503) } })
 */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  const all = new Set([...statuses, 413, 422, 500])
  return Object.fromEntries([...all].sort().map((status) => [status, ErrorEnvelope]))
}

export interface ValidationIssue {
  path: string
  message: string
}

function validationDetails(error: unknown): { where: string; errors: ValidationIssue[] } {
  const e = error as { type?: string; all?: { path?: string; message?: string; summary?: string }[] }
  const seen = new Set<string>()
  const errors: ValidationIssue[] = []
  for (const issue of e.all ?? []) {
    const path = issue.path || '/'
    if (seen.has(path)) continue // a union reports each branch; the first message per field is the useful one
    seen.add(path)
    errors.push({ path, message: issue.summary ?? issue.message ?? 'invalid value' })
  }
  return { where: e.type ?? 'body', errors }
}

export function describeValidation(details: { where: string; errors: ValidationIssue[] }): string {
  const first = details.errors[0]
  if (!first) return `Invalid request ${details.where}`
  const more = details.errors.length > 1 ? ` (and ${details.errors.length - 1} more)` : ''
  return `Invalid request ${details.where}: ${first.path} ${first.message}${more}`
}

export function envelope(request: Request, error: AppError): ErrorEnvelope {
  return {
    success: false,
    error: error.message,
    error_type: error.code,
    request_id: requestId(request),
    ...(error.details ? { details: error.details } : {}),
  }
}

/** Maps any thrown value to an AppError; unknown errors become a bare 500 and are logged with their stack. */
export function toAppError(code: string | number, error: unknown, request: Request, logger: Logger): AppError {
  if (error instanceof AppError) return error
  // Elysia wraps whatever a parse hook throws (our body limit, our JSON check) in its own ParseError.
  const cause = (error as { cause?: unknown })?.cause
  if (cause instanceof AppError) return cause
  switch (code) {
    case 'VALIDATION': {
      const details = validationDetails(error)
      return new AppError('validation_error', 422, describeValidation(details), details)
    }
    case 'NOT_FOUND':
      return new AppError('not_found', 404, `No route ${request.method} ${pathOf(request)}`)
    case 'PARSE':
      return new AppError('invalid_body', 400, 'Request body could not be parsed; send JSON')
  }
  const err = error as Error
  logger.error('unhandled error', {
    request_id: requestId(request),
    method: request.method,
    path: pathOf(request),
    error: err?.message,
    stack: err?.stack,
  })
  return new AppError('internal_error', 500, 'Internal server error; the request id identifies it in the logs')
}

const answered = new WeakMap<Request, string>()

/** The error_type a request was answered with, if it ended in an error envelope (for the audit log). */
export const answeredError = (request: Request): string | undefined => answered.get(request)

export const errors = (logger: Logger) =>
  new Elysia({ name: 'errors' }).onError({ as: 'global' }, ({ code, error, request, set }) => {
    const appError = toAppError(code, error, request, logger)
    answered.set(request, appError.code)
    set.status = appError.status
    set.headers['content-type'] = 'application/json'
    Object.assign(set.headers, appError.headers)
    return envelope(request, appError)
  })
