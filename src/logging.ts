/**
 * Structured JSON logs: one object per line on stdout, `time`, `level`, `msg` and fields. The `requestLogging`
 * plugin gives every request an id (the client's `x-request-id` when it is sane, a new UUID otherwise), returns
 * it in the `x-request-id` header and writes one line per request with method, path, status and duration.
 */
import { Elysia } from 'elysia'

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
  write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  base: LogFields = {},
): Logger {
  const at =
    (lvl: Level) =>
    (msg: string, fields: LogFields = {}) => {
      if (RANK[lvl] < RANK[level]) return
      write(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...base, ...fields }))
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
}

const requests = new WeakMap<Request, RequestInfo>()
// A client-supplied id is echoed into logs and headers, so only accept short, printable tokens.
const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The id of a request seen by `requestLogging` (or a fresh one for a request it never saw). */
export function requestId(request: Request): string {
  let info = requests.get(request)
  if (!info) {
    info = { id: crypto.randomUUID(), start: performance.now() }
    requests.set(request, info)
  }
  return info.id
}

function track(request: Request): RequestInfo {
  const given = request.headers.get('x-request-id')
  const info = { id: given && SANE_ID.test(given) ? given : crypto.randomUUID(), start: performance.now() }
  requests.set(request, info)
  return info
}

/** `client` names the caller in each request line: the access key's name (src/access), never the key. */
export const requestLogging = (logger: Logger, client: (request: Request) => string | undefined = () => undefined) =>
  new Elysia({ name: 'request-logging' })
    .onRequest(({ request, set }) => {
      set.headers['x-request-id'] = track(request).id
    })
    .onAfterResponse({ as: 'global' }, ({ request, set, path }) => {
      const info = requests.get(request)
      logger.info('request', {
        request_id: info?.id,
        method: request.method,
        path,
        client: client(request),
        status: typeof set.status === 'number' ? set.status : 200,
        duration_ms: info ? Math.round((performance.now() - info.start) * 100) / 100 : undefined,
      })
    })
