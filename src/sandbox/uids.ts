/**
 * One host uid per live sandbox. The kernel keys several things by host uid: the process limit (RLIMIT_NPROC
 * counts every process of the uid on the host, across sandboxes), the user keyrings, and who may signal whom.
 * With one shared uid a fork bomb in one sandbox stopped every other sandbox from starting a process; with a
 * uid each, a sandbox only ever competes with itself.
 *
 * A uid goes back to the end of the free list once every process of its sandbox is gone, so the uid handed out
 * next is the one released longest ago. The range holds twice what can run at once (runs, pool, servers) plus
 * slack for sandboxes still being torn down; if it ever runs dry the sandbox falls back to `overflow` (the shared
 * uid of old) and the count shows in /health rather than a run being refused.
 *
 * @example
 * const uids = createUidRange(100_000, 40, 65534)
 * const uid = uids.take()
 * // … the sandbox runs as `uid` and ends
 * uids.give(uid)
 */
export interface UidRange {
  readonly first: number
  readonly count: number
  /** A uid no live sandbox has; `overflow` when all are taken. */
  take(): number
  /** Returns a uid from take(); the caller guarantees no process of it is left. */
  give(uid: number): void
  stats(): { first: number; count: number; in_use: number; overflowed: number }
}

export function createUidRange(first: number, count: number, overflow: number): UidRange {
  const free = Array.from({ length: count }, (_, i) => first + i)
  let overflowed = 0
  return {
    first,
    count,
    take() {
      const uid = free.shift()
      if (uid !== undefined) return uid
      overflowed++
      return overflow
    },
    give(uid) {
      if (uid >= first && uid < first + count && !free.includes(uid)) free.push(uid)
    },
    stats: () => ({ first, count, in_use: count - free.length, overflowed }),
  }
}

/**
 * How many sandboxes can be alive at once: every run slot, the pool, every Python server, the start-up probe, the
 * browser and the learner backend of each browser test.
 */
export function uidRangeSize(config: {
  EXEC_CONCURRENCY: number
  EXEC_POOL_SIZE: number
  SERVERS_MAX: number
  BROWSER_CONCURRENCY?: number
}): number {
  const browser = config.BROWSER_CONCURRENCY === undefined ? 0 : 1 + config.BROWSER_CONCURRENCY
  return 2 * (config.EXEC_CONCURRENCY + config.EXEC_POOL_SIZE + config.SERVERS_MAX + browser + 1) + 16
}
