/**
 * Structured JSON logs: one object per line on stdout, `time`, `level`, `msg` and fields. The `requestLogging`
 * plugin gives every request an id (the client's `x-request-id` when it is sane, a new UUID otherwise), returns
 * it in the `x-request-id` header and writes one line per request with method, path, status and duration.
 *
 * Every line written while a request is served carries that request's `request_id` and `client`, whichever
 * feature writes it: the request runs inside an AsyncLocalStorage context (Elysia's `wrap` around its fetch
 * handler), and the logger reads the context when it writes. A WebSocket's messages arrive outside any request,
 * so the chat feature gives its connection logger the upgrade request's fields (requestFields).
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { Elysia } from 'elysia'
import type { Server } from 'elysia/universal'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'
export type LogFields = Record<string, unknown>
type Level = Exclude<LogLevel, 'silent'>

export interface Logger {
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
  child(fields: LogFields): Logger
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 }

export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  base: LogFields = {},
): Logger {
  const at =
    (lvl: Level) =>
    (msg: string, fields: LogFields = {}) => {
      if (RANK[lvl] < RANK[level]) return
      write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...contextFields(), ...base, ...fields }))
    }
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => createLogger(level, write, { ...base, ...fields }),
  }
}

interface RequestInfo {
  id: string
  start: number
  request: Request
  /** Who is calling, asked when a line is written: the access check may have named the client by then. */
  client?: () => string | undefined
}

const requests = new WeakMap<Request, RequestInfo>()
const current = new AsyncLocalStorage<RequestInfo>()
// A client-supplied id is echoed into logs and headers, so only accept short, printable tokens.
const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/

function track(request: Request): RequestInfo {
  let info = requests.get(request)
  if (!info) {
    const given = request.headers.get('x-request-id')
    info = { id: given && SANE_ID.test(given) ? given : crypto.randomUUID(), start: performance.now(), request }
    requests.set(request, info)
  }
  return info
}

/** The id of a request seen by `requestLogging` (or a fresh one for a request it never saw). */
export const requestId = (request: Request): string => track(request).id

/** The request being served by the code that calls this (through every await), if any. */
export const currentRequest = (): Request | undefined => current.getStore()?.request

const fieldsOf = (info: RequestInfo | undefined): LogFields =>
  info ? { request_id: info.id, client: info.client?.() } : {}

function contextFields(): LogFields {
  return fieldsOf(current.getStore())
}

/** `request_id` and `client` of a request, for lines written outside it (a WebSocket's later messages). */
export const requestFields = (request: Request): LogFields => fieldsOf(requests.get(request))

type HandleRequest = (...args: unknown[]) => unknown

/**
 * `client` names the caller in every line of a request: the access key's name or token subject (src/access),
 * else the peer address; never the key.
 */
export const requestLogging = (
  logger: Logger,
  client: (request: Request, server: Server | null) => string | undefined = () => undefined,
) =>
  new Elysia({ name: 'request-logging' })
    // Runs the whole request (hooks, handler, error handler, after-response hooks) inside its log context.
    .wrap(
      ((handle: HandleRequest, request: Request) =>
        (...args: unknown[]) =>
          current.run(track(request), () => handle(...args))) as never,
    )
    .onRequest(({ request, set, server }) => {
      const info = track(request)
      // The peer address is read now: once the response is out, Bun no longer knows it (the request line would
      // name 'local'). Who the client is (a key, a token) is known only after the access check, so it is asked late.
      const peer = server?.requestIP(request) ?? null
      const seen = { requestIP: () => peer } as unknown as Server
      info.client = () => client(request, server && seen)
      set.headers['x-request-id'] = info.id
    })
    .onAfterResponse({ as: 'global' }, ({ request, set, path }) => {
      const info = requests.get(request)
      logger.info('request', {
        ...fieldsOf(info),
        method: request.method,
        path,
        status: typeof set.status === 'number' ? set.status : 200,
        duration_ms: info ? Math.round((performance.now() - info.start) * 100) / 100 : undefined,
      })
    })
