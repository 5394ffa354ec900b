/**
 * Cross-origin rules: which browser origins may call the API (CORS_ORIGINS) and the CORS headers they get.
 * The same predicate decides, in guard.ts, whether a state-changing request may run at all: a browser enforces
 * CORS only on what a page may *read*, so a disallowed origin must be refused before any handler runs.
 *
 * @example
 * originPolicy('http://localhost:*').allows('http://localhost:5173') // true
 * originPolicy('http://localhost:*').allows('http://localhost:99999') // false: not a port
 */
import { cors } from '@elysiajs/cors'

export interface OriginPolicy {
  allows(origin: string): boolean
  /** CORS_ORIGINS is a lone `*`: every origin may call, none with credentials. */
  any: boolean
}

/** Where a browser origin points: scheme, lower-case host and port (the default port left out). */
interface ParsedOrigin {
  scheme: 'http' | 'https'
  host: string
  port: string
}

const LABEL = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?'
// Browsers serialise an origin as scheme://host[:port], with no path, user or trailing dot: anything else
// (a port out of range, `:0x50`, an empty port) is not an origin a browser sends and never matches.
const ORIGIN = new RegExp(`^(https?)://(\\[[0-9a-f:.]+\\]|${LABEL}(?:\\.${LABEL})*)(?::(\\d{1,5}))?$`, 'i')
const DEFAULT_PORT = { http: '80', https: '443' }

export function parseOrigin(text: string): ParsedOrigin | undefined {
  const match = ORIGIN.exec(text)
  if (!match) return undefined
  const scheme = match[1]!.toLowerCase() as ParsedOrigin['scheme']
  const port = match[3]
  if (port !== undefined && (!/^[1-9]/.test(port) || Number(port) > 65535)) return undefined
  return { scheme, host: match[2]!.toLowerCase(), port: port === DEFAULT_PORT[scheme] ? '' : (port ?? '') }
}

const key = (origin: ParsedOrigin) => `${origin.scheme}://${origin.host}${origin.port ? `:${origin.port}` : ''}`

/**
 * CORS_ORIGINS → which `Origin` headers are allowed. Entries are exact origins; `*` as the port matches any
 * valid port of that host (`http://localhost:*`), and a lone `*` allows every origin. Entries that are not
 * origins match nothing.
 */
export function originPolicy(list: string): OriginPolicy {
  const entries = list
    .split(',')
    .map((entry) => entry.trim().replace(/\/$/, ''))
    .filter(Boolean)
  if (entries.includes('*')) return { allows: () => true, any: true }
  const exact = new Set<string>()
  const anyPort = new Set<string>()
  for (const entry of entries) {
    const wildcard = entry.endsWith(':*')
    const parsed = parseOrigin(wildcard ? entry.slice(0, -2) : entry)
    if (!parsed) continue
    if (wildcard) anyPort.add(`${parsed.scheme}://${parsed.host}`)
    else exact.add(key(parsed))
  }
  const allows = (origin: string) => {
    const parsed = parseOrigin(origin)
    return parsed !== undefined && (exact.has(key(parsed)) || anyPort.has(`${parsed.scheme}://${parsed.host}`))
  }
  return { allows, any: false }
}

// RateLimit fields: src/access/rate-limit.ts.
const EXPOSED = ['x-request-id', 'retry-after', 'ratelimit', 'ratelimit-policy']
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

/**
 * CORS headers through @elysiajs/cors: allowed origins get their origin echoed, our headers exposed and, unless
 * CORS_ORIGINS is a lone `*`, credentials; other origins get no `Access-Control-Allow-Origin`, so their pages
 * cannot read an answer. Every OPTIONS request is a preflight answered with 204.
 */
export const corsHeaders = (origins: OriginPolicy) =>
  cors({
    // With a lone `*` any page may read answers, but never with the visitor's credentials.
    origin: origins.any ? '*' : (request: Request) => origins.allows(request.headers.get('origin') ?? ''),
    credentials: !origins.any,
    methods: METHODS,
    allowedHeaders: true,
    exposeHeaders: EXPOSED,
    maxAge: 600,
    preflight: true,
  })
