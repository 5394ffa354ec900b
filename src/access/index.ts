/**
 * Access control: with access keys configured (API_KEYS, API_KEYS_FILE; keys.ts) or JSON Web Tokens (JWT_SECRET,
 * JWT_JWKS_URL; jwt.ts), every route but the public ones needs `Authorization: Bearer <key or token>`, and the
 * key's name or the token's subject is the client identity (slot fairness, Python-server ownership, rate
 * limits). A key is tried first, then a token. The check is one `onRequest` hook in app.ts, after the request
 * guard, so a new route is protected without doing anything. With neither the server is open, as it says in
 * /health and at start-up.
 *
 * /ws/chat also takes the key or token as `?token=` (browsers cannot set headers on a WebSocket); the chat feature
 * closes a socket without a valid key with 4401 right after it opens (see src/chat/index.ts).
 *
 * @example
 * const access = createAccess(config)
 * app.use(requestGuard(...)).use(accessControl(access))
 */
import { Elysia } from 'elysia'
import { clientByAddress, type Identify } from '../http/client'
import type { JwtConfig } from './jwt'
import type { KeySettings } from './keys'
import { AppError } from '../errors'
import type { HealthReport, Service } from '../services'
import { requestUrl } from '../http/request-url'
import { createJwtVerifier, looksLikeJwt, type JwtVerifier, type TokenProblem } from './jwt'
import { loadKeyRing, type Identity, type KeyRing } from './keys'

export type { Identity, Role } from './keys'

export type AccessMode = 'open' | 'keys' | 'jwt' | 'keys+jwt'

/** What a request's credential turned out to be: who it stands for, or why it was refused. */
export type Refusal = { identity?: undefined; problem: 'missing' | TokenProblem; message: string }
export type Credential = { identity: Identity } | Refusal

export interface Access extends Service {
  mode: AccessMode
  /**
   * Checks the credential a request presents: an access key first, then a JWT. Asked once per request (the
   * access hook does, before anything else needs the identity); later calls answer from memory.
   */
  authenticate(request: Request): Promise<Credential>
  /** The identity of the credential this request presented; undefined without one, with a wrong one, or when open. */
  identity(request: Request): Identity | undefined
  /** Open server, or a valid credential: the caller may use every route and see details. */
  admits(request: Request): boolean
  /** The credential's name when the request presented one, else the peer address (client.ts). */
  identify: Identify
  health(): Record<string, HealthReport>
}

export const OPEN_WARNING = 'open: anyone who can reach this server can run code and spend the AI budget'

/**
 * Routes anyone may call: liveness, the reduced health, the API explorer and the playground page with its files
 * (the page asks for a key itself when the API answers 401).
 */
export function isPublic(path: string): boolean {
  return (
    path === '/' ||
    path === '/play' ||
    path === '/play/preview' ||
    path.startsWith('/play/assets/') ||
    path === '/health' ||
    path === '/openapi' ||
    path === '/openapi/json' ||
    path.startsWith('/openapi/assets/')
  )
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

const MISSING: Credential = {
  problem: 'missing',
  message: 'This server needs an access key or token: send Authorization: Bearer <key>',
}
const WRONG: Credential = { problem: 'invalid', message: 'The access key or token is not valid' }

export function accessFromRing(ring: KeyRing, jwt?: JwtVerifier): Access {
  const mode: AccessMode = ring.size ? (jwt ? 'keys+jwt' : 'keys') : jwt ? 'jwt' : 'open'
  const known = new WeakMap<Request, Credential>()
  const pending = new WeakMap<Request, Promise<Credential>>()

  /** The answer that needs no waiting: none, a key, or a wrong credential when no token could be meant. */
  const checkNow = (request: Request, presented: string | undefined): Credential | undefined => {
    if (!presented) return request.headers.has('authorization') ? WRONG : MISSING
    const identity = ring.size ? ring.verify(presented) : undefined
    if (identity) return { identity }
    return jwt && looksLikeJwt(presented) ? undefined : WRONG
  }

  const identity = (request: Request) => {
    if (mode === 'open') return undefined
    let found = known.get(request)
    if (!found) {
      const now = checkNow(request, presentedKey(request))
      if (!now) return undefined // a token not checked yet (authenticate does, asynchronously)
      known.set(request, (found = now))
    }
    return found.identity
  }

  const authenticate = (request: Request): Promise<Credential> => {
    const seen = known.get(request)
    if (seen) return Promise.resolve(seen)
    const presented = presentedKey(request)
    const now = checkNow(request, presented)
    if (now) {
      known.set(request, now)
      return Promise.resolve(now)
    }
    let check = pending.get(request)
    if (!check) {
      check = jwt!.verify(presented!).then((verdict) => {
        const credential: Credential = verdict.ok ? { identity: verdict.identity } : verdict
        known.set(request, credential)
        return credential
      })
      pending.set(request, check)
    }
    return check
  }

  return {
    mode,
    authenticate,
    identity,
    admits: (request) => mode === 'open' || identity(request) !== undefined,
    identify: (request, server) => identity(request)?.name ?? clientByAddress(request, server),
    health: () => ({
      access:
        mode === 'open'
          ? { ok: true, mode }
          : { ok: true, mode, ...(ring.size ? { keys: ring.size } : {}), ...(jwt ? { jwt: jwt.methods } : {}) },
    }),
    close() {},
  }
}

export const createAccess = (config: KeySettings & JwtConfig) =>
  accessFromRing(loadKeyRing(config), createJwtVerifier(config))

function refusal(credential: Refusal): AppError {
  if (credential.problem === 'unavailable') {
    return new AppError('auth_unavailable', 503, credential.message, undefined, { 'retry-after': '5' })
  }
  const challenge =
    credential.problem === 'missing'
      ? 'Bearer'
      : `Bearer error="invalid_token", error_description="${credential.message.replace(/"/g, "'")}"`
  return new AppError('unauthorized', 401, credential.message, undefined, { 'www-authenticate': challenge })
}

/** `onRefused` hears of every refusal by its reason (the metrics count them). */
export const accessControl = (access: Access, onRefused: (reason: Refusal['problem']) => void = () => {}) =>
  new Elysia({ name: 'access-control' }).onRequest(async ({ request }) => {
    if (access.mode === 'open' || request.method === 'OPTIONS') return // a CORS preflight carries no credentials
    const path = pathOf(request)
    // A public route needs nothing, but a credential it carries is checked: /health shows details to its holder.
    if (isPublic(path)) return void (request.headers.has('authorization') && (await access.authenticate(request)))
    const credential = await access.authenticate(request)
    if (credential.identity) return
    onRefused(credential.problem)
    // The chat socket is refused once open, with a close code a browser can read (src/chat/index.ts).
    if (path === WS_PATH) return
    throw refusal(credential)
  })
