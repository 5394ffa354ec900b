/**
 * Access control: with access keys configured (API_KEYS, API_KEYS_FILE; keys.ts), every route but the public
 * ones needs `Authorization: Bearer <key>`, and the key's name is the client identity (slot fairness,
 * Python-server ownership). The check is one `onRequest` hook in app.ts, after the request guard, so a new
 * route is protected without doing anything. Without keys the server is open, as it says in /health.
 *
 * /ws/chat also takes the key as `?token=` (browsers cannot set headers on a WebSocket); the chat feature
 * closes a socket without a valid key with 4401 right after it opens (see src/chat/index.ts).
 *
 * @example
 * const access = createAccess(config)
 * app.use(requestGuard(...)).use(accessControl(access))
 */
import { Elysia } from 'elysia'
import { clientByAddress, type Identify } from '../client'
import type { Config } from '../config'
import { AppError } from '../errors'
import type { HealthReport, Service } from '../services'
import { requestUrl } from '../request-url'
import { loadKeyRing, type Identity, type KeyRing } from './keys'

export type { Identity, Role } from './keys'

export interface Access extends Service {
  mode: 'open' | 'keys'
  /** The identity of the key this request presented; undefined without one, with a wrong one, or when open. */
  identity(request: Request): Identity | undefined
  /** Open server, or a valid key: the caller may use every route and see details. */
  admits(request: Request): boolean
  /** The key's name when the request presented one, else the peer address (client.ts). */
  identify: Identify
  health(): Record<string, HealthReport>
}

export const OPEN_WARNING = 'open: anyone who can reach this server can run code and spend the AI budget'

/** Routes anyone may call: liveness, the reduced health and the API explorer. */
export function isPublic(path: string): boolean {
  return path === '/' || path === '/health' || path === '/openapi' || path === '/openapi/json' || path.startsWith('/openapi/assets/')
}

export const WS_PATH = '/ws/chat'

const pathOf = (request: Request) => requestUrl(request).pathname

/** The key a request presents: the Bearer credential, or on the chat socket the `token` query parameter. */
function presentedKey(request: Request): string | undefined {
  const header = request.headers.get('authorization')
  const bearer = header && /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1]
  if (bearer) return bearer
  const url = requestUrl(request)
  return url.pathname === WS_PATH ? (url.searchParams.get('token') ?? undefined) : undefined
}

export function accessFromRing(ring: KeyRing): Access {
  const mode = ring.size ? 'keys' : 'open'
  const known = new WeakMap<Request, Identity | null>()
  const identity = (request: Request) => {
    if (mode === 'open') return undefined
    let found = known.get(request)
    if (found === undefined) {
      const key = presentedKey(request)
      found = (key && ring.verify(key)) || null
      known.set(request, found)
    }
    return found ?? undefined
  }
  return {
    mode,
    identity,
    admits: (request) => mode === 'open' || identity(request) !== undefined,
    identify: (request, server) => identity(request)?.name ?? clientByAddress(request, server),
    health: () => ({ access: mode === 'open' ? { ok: true, mode } : { ok: true, mode, keys: ring.size } }),
    close() {},
  }
}

export const createAccess = (config: Pick<Config, 'API_KEYS' | 'API_KEYS_FILE'>) => accessFromRing(loadKeyRing(config))

export const accessControl = (access: Access) =>
  new Elysia({ name: 'access-control' }).onRequest(({ request }) => {
    if (access.mode === 'open' || request.method === 'OPTIONS') return // a CORS preflight carries no credentials
    const path = pathOf(request)
    if (isPublic(path) || path === WS_PATH || access.identity(request)) return
    const wrong = request.headers.has('authorization')
    throw new AppError(
      'unauthorized',
      401,
      wrong ? 'The access key is not valid' : 'This server needs an access key: send Authorization: Bearer <key>',
      undefined,
      { 'www-authenticate': wrong ? 'Bearer error="invalid_token"' : 'Bearer' },
    )
  })
