/**
 * The LimitStore port: the counters behind every quota (requests per minute, concurrent executions and sockets,
 * AI tokens per day). Two adapters: this file's memory store (one process) and ./redis-store.ts (shared by
 * replicas); ./limit-store.ts picks one and falls back to memory while Redis is unreachable.
 *
 * Every operation is one atomic step of the adapter (a Lua script in Redis), so two replicas counting the same
 * client never lose an update.
 *
 * @example
 * const store = createMemoryStore()
 * await store.hit('rate:chat:alice', 30, 60_000) // { allowed: true, count: 1, resetMs: 60000 }
 */

export interface WindowHit {
  allowed: boolean
  /** Events counted in this window, the refused one excluded. */
  count: number
  /** Milliseconds until the window ends. */
  resetMs: number
}

/** Gives a place back; calling it again does nothing. */
export type Release = () => void

export interface LimitStore {
  /**
   * A fixed window: counts one event unless `limit` were already reached. The window starts with its first
   * event and lasts `windowMs`.
   */
  hit(key: string, limit: number, windowMs: number): Promise<WindowHit>
  /** Adds `amount` to a counter that disappears `ttlMs` from now; returns the new total. */
  add(key: string, amount: number, ttlMs: number): Promise<number>
  /** A counter's value (0 when it does not exist). */
  read(key: string): Promise<number>
  /** Takes one of `limit` places; undefined when all are taken. */
  acquire(key: string, limit: number): Promise<Release | undefined>
}

// About 100 bytes a counter: the cap bounds memory to a few megabytes whatever the peers do.
export const MAX_KEYS = 20_000

export interface MemoryStoreOptions {
  /** Counters kept at most; beyond it the oldest window is dropped, so a flood of addresses cannot grow memory. */
  maxKeys?: number
  /** Milliseconds from a monotonic clock (a wall clock stepping back would keep windows open). */
  now?: () => number
}

interface Counter {
  /** When the counter disappears. */
  end: number
  value: number
}

export function createMemoryStore({
  maxKeys = MAX_KEYS,
  now = () => performance.now(),
}: MemoryStoreOptions = {}): LimitStore & {
  size(): number
} {
  // Windows and budgets; insertion order is creation order (a renewed counter is re-inserted), oldest first.
  const counters = new Map<string, Counter>()
  const places = new Map<string, number>()

  const live = (key: string, at: number) => {
    const counter = counters.get(key)
    if (counter && counter.end > at) return counter
    if (counter) counters.delete(key)
    return undefined
  }
  const create = (key: string, at: number, ttlMs: number) => {
    if (counters.size >= maxKeys) {
      for (const [old, counter] of counters) if (counter.end <= at) counters.delete(old)
      // Still full of live counters: drop the oldest. Its client starts afresh, the lesser harm compared with
      // refusing every newcomer or growing without bound.
      if (counters.size >= maxKeys) counters.delete(counters.keys().next().value!)
    }
    const counter = { end: at + ttlMs, value: 0 }
    counters.set(key, counter)
    return counter
  }

  return {
    async hit(key, limit, windowMs) {
      const at = now()
      const window = live(key, at) ?? create(key, at, windowMs)
      const resetMs = window.end - at
      if (window.value >= limit) return { allowed: false, count: window.value, resetMs }
      window.value += 1
      return { allowed: true, count: window.value, resetMs }
    },
    async add(key, amount, ttlMs) {
      const at = now()
      const counter = live(key, at) ?? create(key, at, ttlMs)
      counter.value += amount
      return counter.value
    },
    async read(key) {
      return live(key, now())?.value ?? 0
    },
    async acquire(key, limit) {
      const held = places.get(key) ?? 0
      if (held >= limit) return undefined
      places.set(key, held + 1)
      let released = false
      return () => {
        if (released) return
        released = true
        const left = (places.get(key) ?? 1) - 1
        if (left > 0) places.set(key, left)
        else places.delete(key)
      }
    },
    size: () => counters.size + places.size,
  }
}
