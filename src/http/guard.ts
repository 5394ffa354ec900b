/**
 * The request guard: runs before routing, so a refused request reaches no handler (no code run, no server
 * started, no chat turn paid for).
 *
 * - Host: every request must name one of ALLOWED_HOSTS (421 otherwise). A page on another site can make a
 *   browser resolve its own domain to 127.0.0.1 (DNS rebinding) and then read and write this API as if it were
 *   same-origin; only the Host header still names the foreign domain.
 * - State-changing requests (every method but GET/HEAD/OPTIONS, and WebSocket upgrades, since a chat spends AI
 *   budget): an `Origin` that CORS_ORIGINS does not allow is refused (403). CORS only hides answers from such a
 *   page; the request itself would still run. Without an allowed Origin the body must be declared JSON (415
 *   otherwise): a form or a `no-cors` fetch can only send text/plain, urlencoded or multipart without a preflight.
 *
 * @example
 * const hosts = hostPolicy(config.ALLOWED_HOSTS, config.HOST)
 * app.use(requestGuard({ hosts, origins: originPolicy(config.CORS_ORIGINS) }))
 */
import { Elysia } from 'elysia'
import type { OriginPolicy } from './cors'
import { AppError } from '../errors'

export type HostCheck = (host: string) => boolean

const LOCAL_NAMES = ['localhost', '127.0.0.1', '[::1]']
const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '*'])

/** A host name as we compare it: lower case, no trailing dot, IPv6 addresses in brackets. */
function normalise(name: string): string {
  const lower = name.trim().toLowerCase().replace(/\.$/, '')
  return lower.includes(':') && !lower.startsWith('[') ? `[${lower}]` : lower
}

// A Host header is a name or an address with an optional port; anything else (user info, paths) is refused
// outright rather than parsed leniently into something that matches.
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::\d{1,5})?$/i

/**
 * ALLOWED_HOSTS (and the listen address) → a predicate over the Host header, any port. Unset means the
 * loopback names plus HOST when it is a specific name or address; a lone `*` turns the check off.
 *
 * @example
 * hostPolicy(undefined, '127.0.0.1')('localhost:4828') // true
 * hostPolicy(undefined, '127.0.0.1')('rebind.evil.example:4828') // false
 */
export function hostPolicy(allowedHosts: string | undefined, listenHost: string): HostCheck {
  const entries = allowedHosts?.split(',').map(normalise).filter(Boolean)
  if (entries?.includes('*')) return () => true
  const listen = WILDCARDS.has(listenHost.trim()) ? [] : [listenHost]
  const names = new Set((entries ?? [...LOCAL_NAMES, ...listen]).map(normalise))
  return (host) => {
    const match = HOST_HEADER.exec(host)
    return match !== null && names.has(normalise(match[1]!))
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

const changesState = (request: Request) =>
  !SAFE_METHODS.has(request.method) || request.headers.get('upgrade')?.toLowerCase() === 'websocket'

/** `application/json` or any `+json` type, parameters (charset) ignored. */
function isJson(contentType: string | null): boolean {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
  return type === 'application/json' || /^[a-z]+\/[a-z0-9.+-]*\+json$/.test(type)
}

/** The request announces a body: a length above zero, or chunks. */
const hasBody = (request: Request) =>
  Number(request.headers.get('content-length') ?? 0) > 0 || request.headers.has('transfer-encoding')

export const requestGuard = ({ hosts, origins }: { hosts: HostCheck; origins: OriginPolicy }) =>
  new Elysia({ name: 'request-guard' }).onRequest(({ request }) => {
    // Browsers always send Host, and only browsers can be rebound; a request without one (HTTP/1.0, built in
    // process) comes from a client that could send any Host it liked.
    const host = request.headers.get('host')
    if (host !== null && !hosts(host)) {
      const why = 'This server does not answer to the host name in the request; add it to ALLOWED_HOSTS'
      throw new AppError('host_not_allowed', 421, why)
    }
    if (!changesState(request)) return
    const origin = request.headers.get('origin')
    if (origin !== null) {
      if (origins.allows(origin)) return
      const why = 'Requests that change state are not accepted from this origin; see CORS_ORIGINS'
      throw new AppError('origin_not_allowed', 403, why)
    }
    // A WebSocket client without an Origin is not a browser page: there is no body type to check.
    if (request.method === 'GET') return
    // Nor is there one in a DELETE without a body; a page can only send a DELETE after a preflight, which CORS
    // answers for allowed origins only.
    if (request.method === 'DELETE' && !hasBody(request)) return
    if (!isJson(request.headers.get('content-type'))) {
      const why = 'Send the request body as JSON (Content-Type: application/json)'
      throw new AppError('unsupported_media_type', 415, why)
    }
  })
