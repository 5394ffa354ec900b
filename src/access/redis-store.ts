/**
 * The LimitStore in Redis, so replicas share every quota. Each operation is one Lua script: Redis runs a script
 * alone, so a check and its update can never interleave with another replica's.
 *
 * Concurrent places are a sorted set per client and class: one member per holder, scored with the time its lease
 * ends (Redis's own clock, so replicas' clocks do not matter). A holder renews its lease while it runs; a replica
 * that dies without releasing leaves members that expire within LEASE_MS instead of holding places forever.
 *
 * Scripts go as EVAL, not EVALSHA: they are a few hundred bytes, and a restarted Redis (empty script cache) needs
 * no NOSCRIPT round trip.
 *
 * @example
 * const store = createRedisStore(() => client, { prefix: 'tutor:' })
 */
import type { LimitStore, Release, WindowHit } from './store'

/** The part of Bun's RedisClient this store uses (a test can hand in anything that speaks it). */
export interface RedisCommands {
  send(command: string, args: string[]): Promise<unknown>
}

export interface RedisStoreOptions {
  /** Put before every key, so the counters of two deployments sharing a Redis do not mix. */
  prefix?: string
  /** How long a place is held without renewal. */
  leaseMs?: number
}

export const LEASE_MS = 60_000

// KEYS[1] counter; ARGV limit, window ms. → { allowed 0|1, count, ms until the window ends }
const HIT = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then
  redis.call('SET', KEYS[1], 1, 'PX', ARGV[2])
  return {1, 1, tonumber(ARGV[2])}
end
local count = tonumber(redis.call('GET', KEYS[1]))
if count >= tonumber(ARGV[1]) then return {0, count, ttl} end
return {1, redis.call('INCR', KEYS[1]), ttl}`

// KEYS[1] counter; ARGV amount, ttl ms. → the new total
const ADD = `
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return total`

const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

// KEYS[1] holders; ARGV limit, holder, lease ms. → 1 taken, 0 full
const ACQUIRE = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`

// KEYS[1] holders; ARGV holder, lease ms. Only a member still present is renewed (XX).
const RENEW = `${NOW_MS}
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`

const eval_ = (redis: RedisCommands, script: string, key: string, ...args: (string | number)[]) =>
  redis.send('EVAL', [script, '1', key, ...args.map(String)])

/**
 * `redis()` gives the client of the moment (the caller replaces it after a reconnect). A failing command
 * rejects; ./limit-store.ts turns that into the memory fallback.
 */
export function createRedisStore(
  redis: () => RedisCommands,
  { prefix = 'tutor:', leaseMs = LEASE_MS }: RedisStoreOptions = {},
) {
  const held = new Map<string, string>() // holder → its key, for renewal
  let renewal: ReturnType<typeof setInterval> | undefined
  let serial = 0
  const instance = crypto.randomUUID()

  const renew = () => {
    for (const [holder, key] of held) eval_(redis(), RENEW, key, holder, leaseMs).catch(() => {}) // expires on its own
  }
  const hold = (holder: string, key: string) => {
    held.set(holder, key)
    // A third of the lease: two renewals may fail before a place another replica counts on expires.
    renewal ??= setInterval(renew, leaseMs / 3)
    renewal.unref?.()
  }
  const drop = (holder: string) => {
    held.delete(holder)
    if (held.size === 0 && renewal) {
      clearInterval(renewal)
      renewal = undefined
    }
  }

  const store: LimitStore & { close(): void } = {
    async hit(key, limit, windowMs): Promise<WindowHit> {
      const [allowed, count, resetMs] = (await eval_(redis(), HIT, prefix + key, limit, windowMs)) as number[]
      return { allowed: allowed === 1, count: count!, resetMs: resetMs! }
    },
    async add(key, amount, ttlMs) {
      return Number(await eval_(redis(), ADD, prefix + key, Math.round(amount), Math.max(1, Math.round(ttlMs))))
    },
    async read(key) {
      return Number((await redis().send('GET', [prefix + key])) ?? 0)
    },
    async acquire(key, limit): Promise<Release | undefined> {
      const holder = `${instance}:${++serial}`
      const full = prefix + key
      if ((await eval_(redis(), ACQUIRE, full, limit, holder, leaseMs)) !== 1) return undefined
      hold(holder, full)
      return () => {
        if (!held.has(holder)) return
        drop(holder)
        // If Redis is gone now, the lease ends on its own within leaseMs.
        redis()
          .send('ZREM', [full, holder])
          .catch(() => {})
      }
    },
    close() {
      if (renewal) clearInterval(renewal)
      renewal = undefined
    },
  }
  return store
}
