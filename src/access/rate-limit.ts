/**
 * Requests per minute, per client (services.identify: the access key's name, else the peer address) and per
 * route class. One `onRequest` hook in app.ts, after the guard and the access check, so a refused request never
 * reaches a handler, a sandbox or a model, and an unauthenticated one does not spend anybody's allowance.
 *
 * Fixed windows of 60 s, counted from a client's first request in that class: one counter and one start time
 * per client and class, an exact "requests left" and "seconds until reset" for the headers, and the same
 * semantics a shared store would give with INCR plus an expiry. The price is that a client may send up to
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
 * const limiter = createRateLimiter(config)
 * app.use(rateLimiting(limiter, services.identify))
 */
import { Elysia } from 'elysia'
import type { Identify } from '../client'
import type { Config } from '../config'
import { AppError } from '../errors'
import { requestUrl } from '../request-url'

export type RouteClass = 'execution' | 'chat' | 'judge' | 'servers'

const EXECUTION_PATHS = new Set(['/api/execute-endpoint', '/api/execute-test-cases', '/api/validate-python', '/api/grade'])

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
  /** Counts one request of `client` in `routeClass`; undefined when that class has no limit (0). */
  take(client: string, routeClass: RouteClass): RateDecision | undefined
  /** Counters held right now (one per client and class), for tests and health. */
  size(): number
}

export interface RateLimiterOptions {
  /** Requests per window of each class; 0 turns the class off. */
  limits: Record<RouteClass, number>
  windowMs?: number
  /** Counters kept at most; beyond it the oldest window is dropped, so a flood of addresses cannot grow memory. */
  maxClients?: number
  /** Milliseconds from a monotonic clock (a wall clock stepping back would keep windows open). */
  now?: () => number
}

interface Window {
  start: number
  count: number
}

export const WINDOW_MS = 60_000
// 50 bytes or so per counter: the cap bounds memory to about a megabyte whatever the peers do.
export const MAX_CLIENTS = 20_000

export function createRateLimiter({
  limits,
  windowMs = WINDOW_MS,
  maxClients = MAX_CLIENTS,
  now = () => performance.now(),
}: RateLimiterOptions): RateLimiter {
  // Insertion order is window-start order (a renewed window is re-inserted), so the first entries are the oldest.
  const windows = new Map<string, Window>()
  let lastSweep = now()

  const sweep = (at: number) => {
    lastSweep = at
    for (const [key, window] of windows) {
      if (at - window.start < windowMs) break // the rest started later
      windows.delete(key)
    }
  }

  return {
    take(client, routeClass) {
      const limit = limits[routeClass]
      if (limit <= 0) return undefined
      const at = now()
      if (at - lastSweep >= windowMs) sweep(at) // lazily, at most once a window: no timer to stop
      const key = `${routeClass}\u0000${client}`
      let window = windows.get(key)
      if (!window || at - window.start >= windowMs) {
        windows.delete(key)
        if (windows.size >= maxClients) {
          sweep(at)
          // Still full of live windows: drop the oldest. Its client gets a fresh allowance, the lesser harm
          // compared with refusing every newcomer or growing without bound.
          if (windows.size >= maxClients) windows.delete(windows.keys().next().value!)
        }
        window = { start: at, count: 0 }
        windows.set(key, window)
      }
      const resetS = Math.max(1, Math.ceil((window.start + windowMs - at) / 1000))
      if (window.count >= limit) return { allowed: false, limit, remaining: 0, resetS }
      window.count += 1
      return { allowed: true, limit, remaining: limit - window.count, resetS }
    },
    size: () => windows.size,
  }
}

export const rateLimiterFromConfig = (
  config: Pick<Config, 'RATE_EXECUTION_PER_MIN' | 'RATE_CHAT_PER_MIN' | 'RATE_JUDGE_PER_MIN' | 'RATE_SERVERS_PER_MIN'>,
) =>
  createRateLimiter({
    limits: {
      execution: config.RATE_EXECUTION_PER_MIN,
      chat: config.RATE_CHAT_PER_MIN,
      judge: config.RATE_JUDGE_PER_MIN,
      servers: config.RATE_SERVERS_PER_MIN,
    },
  })

/** The draft-07 fields for one decision (see the top of this file). */
export function rateLimitHeaders(decision: RateDecision, windowMs = WINDOW_MS): Record<string, string> {
  return {
    'ratelimit-policy': `${decision.limit};w=${Math.round(windowMs / 1000)}`,
    ratelimit: `limit=${decision.limit}, remaining=${decision.remaining}, reset=${decision.resetS}`,
  }
}

/** `onRefused` hears of every 429 (the metrics count them by route class). */
export const rateLimiting = (limiter: RateLimiter, identify: Identify, onRefused: (routeClass: RouteClass) => void = () => {}) =>
  new Elysia({ name: 'rate-limiting' }).onRequest(({ request, server, set }) => {
    // A request without a Host header (HTTP/1.0) has a bare path as its URL: resolve it against a base.
    const routeClassOf = routeClass(request.method, requestUrl(request).pathname)
    if (!routeClassOf) return
    const decision = limiter.take(identify(request, server), routeClassOf)
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
