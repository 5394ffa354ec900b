/**
 * Requests per minute, per client (services.identify: the access key's name, else the peer address) and per
 * route class. One `onRequest` hook in app.ts, after the guard and the access check, so a refused request never
 * reaches a handler, a sandbox or a model, and an unauthenticated one does not spend anybody's allowance.
 *
 * Fixed windows of 60 s, counted from a client's first request in that class: one counter with an expiry per
 * client and class in the limit store (memory, or Redis shared by replicas: ./limit-store.ts), an exact
 * "requests left" and "seconds until reset" for the headers. The price is that a client may send up to
 * twice its limit across a window boundary; a sliding log would close that gap at the cost of one timestamp
 * per request, which is what an attacker would then fill.
 *
 * Headers follow draft-ietf-httpapi-ratelimit-headers-07 (June 2023), the last draft with the
 * `limit=, remaining=, reset=` form that existing clients and libraries read:
 *   RateLimit-Policy: 120;w=60
 *   RateLimit: limit=120, remaining=119, reset=60
 * and a refusal adds `Retry-After: <seconds until a request would pass>`.
 *
 * @example
 * const limiter = createRateLimiter(store)
 * app.use(rateLimiting(limiter, quotas))
 */
import { Elysia } from 'elysia'
import { AppError } from '../errors'
import { requestUrl } from '../http/request-url'
import { canonicalPath } from '../http/routes'
import type { Server } from 'elysia/universal'
import type { LimitStore } from './store'

export type RouteClass = 'execution' | 'chat' | 'judge' | 'servers'

const EXECUTION_PATHS = new Set([
  '/api/execute-endpoint',
  '/api/execute-test-cases',
  '/api/validate-python',
  '/api/grade',
])

/** Which limit a request counts against; undefined for routes without one (tasks, health, lists, stops). */
export function routeClass(method: string, path: string): RouteClass | undefined {
  if (method === 'POST' && EXECUTION_PATHS.has(path)) return 'execution'
  if ((method === 'POST' && path === '/api/chat') || (method === 'GET' && path === '/ws/chat')) return 'chat'
  if (method === 'POST' && path === '/api/llm-judge') return 'judge'
  if (method === 'POST' && path === '/api/start-python-server') return 'servers'
  return undefined
}

export interface RateDecision {
  allowed: boolean
  limit: number
  remaining: number
  /** Whole seconds until the window ends and the full limit is available again (at least 1). */
  resetS: number
}

export interface RateLimiter {
  /** Counts one request of `client` in `routeClass` against `limit`; undefined when the limit is 0 (none). */
  take(client: string, routeClass: RouteClass, limit: number): Promise<RateDecision | undefined>
}

export const WINDOW_MS = 60_000

/** The counters live in a LimitStore (./store.ts): one process's memory, or Redis shared by replicas. */
export function createRateLimiter(store: LimitStore, windowMs = WINDOW_MS): RateLimiter {
  return {
    async take(client, routeClass, limit) {
      if (limit <= 0) return undefined
      const { allowed, count, resetMs } = await store.hit(`rate:${routeClass}:${client}`, limit, windowMs)
      return { allowed, limit, remaining: Math.max(0, limit - count), resetS: Math.max(1, Math.ceil(resetMs / 1000)) }
    },
  }
}

/** The draft-07 fields for one decision (see the top of this file). */
export function rateLimitHeaders(decision: RateDecision, windowMs = WINDOW_MS): Record<string, string> {
  return {
    'ratelimit-policy': `${decision.limit};w=${Math.round(windowMs / 1000)}`,
    ratelimit: `limit=${decision.limit}, remaining=${decision.remaining}, reset=${decision.resetS}`,
  }
}

/** 429 quota_exceeded with the RateLimit fields of the quota that refused. */
export function quotaExceeded(quota: string, message: string, limit: number, retryAfterS: number, windowMs: number) {
  const headers = rateLimitHeaders({ allowed: false, limit, remaining: 0, resetS: retryAfterS }, windowMs)
  return new AppError(
    'quota_exceeded',
    429,
    message,
    { quota, limit, retry_after_s: retryAfterS },
    {
      ...headers,
      'retry-after': String(retryAfterS),
    },
  )
}

/** `onRefused` hears of every 429 (the metrics count them by route class). */
/** Who is calling and their allowance a minute per class (src/access/quotas.ts answers it, per-key overrides included). */
export interface ClientAllowance {
  of(request: Request, server: Server | null): { client: string; limits: { perMinute: Record<RouteClass, number> } }
}

export const rateLimiting = (
  limiter: RateLimiter,
  quotas: ClientAllowance,
  onRefused: (routeClass: RouteClass) => void = () => {},
  routeOf: (path: string) => string | undefined = canonicalPath,
) =>
  new Elysia({ name: 'rate-limiting' }).onRequest(async ({ request, server, set }) => {
    // Keyed on the route the path belongs to: `/api/grade/` is `/api/grade` to the router, so it is here too.
    const routeClassOf = routeClass(request.method, routeOf(requestUrl(request).pathname) ?? '')
    if (!routeClassOf) return
    const { client, limits } = quotas.of(request, server)
    const decision = await limiter.take(client, routeClassOf, limits.perMinute[routeClassOf])
    if (!decision) return
    const headers = rateLimitHeaders(decision)
    if (decision.allowed) return void Object.assign(set.headers, headers)
    onRefused(routeClassOf)
    throw new AppError(
      'rate_limited',
      429,
      `Too many ${routeClassOf} requests: at most ${decision.limit} a minute; try again in ${decision.resetS} s`,
      { route_class: routeClassOf, limit: decision.limit, retry_after_s: decision.resetS },
      { ...headers, 'retry-after': String(decision.resetS) },
    )
  })
