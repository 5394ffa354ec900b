/**
 * The limit store the app uses: memory without REDIS_URL; with it, Redis (./redis-store.ts) shared by every
 * replica, and per-instance memory counters whenever Redis cannot answer. Limits then hold per replica instead of
 * per deployment: the lesser harm compared with refusing every request, or letting every request through.
 *
 * Every Redis command has REDIS_TIMEOUT_MS to answer (a stopped or unreachable Redis never holds a request
 * up). The first failure switches to memory, logs one warning and makes /health degraded (`checks.limits`); a
 * reconnection is tried in the background at most once a second while requests come, and by every /health, and
 * the store switches back as soon as Redis answers.
 *
 * @example
 * const limits = createLimitStore({ url: config.REDIS_URL, timeoutMs: config.REDIS_TIMEOUT_MS, logger })
 * await limits.hit('rate:chat:alice', 30, 60_000)
 */
import { RedisClient } from 'bun'
import type { Logger } from '../logging'
import type { HealthReport, Service } from '../services'
import { createRedisStore, type RedisCommands } from './redis-store'
import { createMemoryStore, type LimitStore } from './store'

export interface LimitStoreService extends LimitStore, Service {
  health(): Promise<Record<string, HealthReport>>
}

export interface LimitStoreOptions {
  url?: string
  timeoutMs: number
  logger: Logger
}

/** Reconnection attempts triggered by requests, at most one this often. */
export const RETRY_MS = 1_000

const OFFLINE: RedisCommands = { send: () => Promise.reject(new Error('not connected')) }

/**
 * Rejects when `promise` has not settled within `ms` of event-loop time. The deadline is counted in short steps,
 * and a step that took long because the loop was busy (building the app takes ~0.5 s of synchronous work, the
 * sandbox probes spawn processes) counts as two steps at most: Redis's answer may be sitting in the socket
 * unread, and a busy server must not take its own slowness for Redis's.
 */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  const step = Math.min(50, ms)
  return new Promise<T>((resolve, reject) => {
    let waited = 0
    let last = performance.now()
    let timer: ReturnType<typeof setTimeout>
    const tick = () => {
      const now = performance.now()
      waited += Math.min(now - last, 2 * step)
      last = now
      if (waited >= ms) reject(new Error(`no answer within ${ms} ms`))
      else timer = setTimeout(tick, step)
    }
    timer = setTimeout(tick, step)
    promise.then(resolve, reject).finally(() => clearTimeout(timer))
  })
}

/** host:port of a Redis URL, never its user or password; `REDIS_URL` when it does not parse. */
export function redisHost(url: string): string {
  try {
    const parsed = new URL(url)
    return parsed.host || 'REDIS_URL'
  } catch {
    return 'REDIS_URL'
  }
}

export function createLimitStore({ url, timeoutMs, logger }: LimitStoreOptions): LimitStoreService {
  const memory = createMemoryStore()
  if (!url) {
    return { ...memory, health: async () => ({ limits: { ok: true, store: 'memory' } }), close() {} }
  }
  const log = logger.child({ feature: 'limits' })
  // Bun's errors do not quote the URL, but a URL may carry a password: never let it into a log or /health.
  const describe = (error: unknown) => String((error as Error)?.message ?? error).replaceAll(url, 'REDIS_URL')
  const where = redisHost(url)

  let client: RedisClient | undefined
  let state: 'starting' | 'up' | 'down' = 'starting'
  let closed = false
  let problem = 'not connected yet'
  let connecting: Promise<void> | undefined
  let lastAttempt = -Infinity
  const redis = createRedisStore(() => client ?? OFFLINE)

  const down = (error: unknown) => {
    problem = describe(error)
    const stale = client
    client = undefined
    stale?.close()
    if (state === 'down') return
    state = 'down'
    log.warn('limits store unreachable: per-instance limits until Redis is back', { error: problem })
  }

  const connect = () =>
    (connecting ??= (async () => {
      lastAttempt = performance.now()
      // Bun's connection timer counts wall-clock time, so a busy event loop would trip it: withTimeout decides,
      // Bun's only ends an attempt that hangs for good.
      const options = {
        autoReconnect: false,
        enableOfflineQueue: false,
        connectionTimeout: Math.max(10_000, timeoutMs),
      }
      const fresh = new RedisClient(url, options)
      fresh.onclose = (error) => {
        if (client === fresh) down(error ?? new Error('connection closed'))
      }
      try {
        await withTimeout(fresh.connect(), timeoutMs)
        await withTimeout(fresh.send('PING', []), timeoutMs)
      } catch (error) {
        fresh.close()
        down(error)
        return
      }
      if (closed) return fresh.close()
      client = fresh
      if (state !== 'up') log.info('limits store connected: limits are shared through Redis')
      state = 'up'
    })().finally(() => (connecting = undefined)))

  void connect()

  /** `discard` undoes a Redis result that arrives after its timeout (a place taken when memory already gave one). */
  const run = async <T>(operation: (store: LimitStore) => Promise<T>, discard?: (late: T) => void): Promise<T> => {
    if (state === 'starting') await connecting // bounded by the timeout, once: the start-up requests count in Redis too
    if (state === 'up') {
      const answer = operation(redis)
      try {
        return await withTimeout(answer, timeoutMs)
      } catch (error) {
        if (discard) answer.then(discard, () => {})
        down(error)
      }
    } else if (state === 'down' && !closed && performance.now() - lastAttempt >= RETRY_MS) {
      void connect()
    }
    return operation(memory)
  }

  return {
    hit: (key, limit, windowMs) => run((store) => store.hit(key, limit, windowMs)),
    add: (key, amount, ttlMs) => run((store) => store.add(key, amount, ttlMs)),
    read: (key) => run((store) => store.read(key)),
    acquire: (key, limit) =>
      run(
        (store) => store.acquire(key, limit),
        (release) => release?.(),
      ),
    async health() {
      if (state === 'up' && client) {
        await withTimeout(client.send('PING', []), timeoutMs).catch(down)
      } else if (!closed) {
        await connect()
      }
      return {
        limits:
          state === 'up'
            ? { ok: true, store: 'redis' }
            : { ok: false, store: 'redis', host: where, counting: 'memory', error: `Redis at ${where}: ${problem}` },
      }
    },
    close() {
      closed = true
      redis.close()
      client?.close()
      client = undefined
    },
  }
}
