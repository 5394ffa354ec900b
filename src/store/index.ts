/**
 * createStore: the Store for DATABASE_URL. Unset → the SQLite file `<dataDir>/tutor.sqlite` (the folder is
 * created); `sqlite:<path>` or `sqlite::memory:`; `postgres://…` or `postgresql://…` → PostgreSQL, shared by every
 * replica. SQLite runs with WAL (readers never wait for the writer), synchronous NORMAL, a busy timeout (a second
 * process waits rather than fails) and foreign keys on.
 *
 * @example
 * const store = createStore({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, timeoutMs: 5000, logger })
 * await store.ready // rejects only when the schema is newer than this server knows
 */
import { mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { SQL } from 'bun'
import type { Logger } from '../logging'
import type { Store } from './port'
import { createSqlStore } from './sql-store'

export type { Store } from './port'
export { StoreNotFound, StoreUnavailable } from './errors'
export { SchemaTooNew } from './migrate'

export interface StoreOptions {
  /** DATABASE_URL; unset means the SQLite file in `dataDir`. */
  url?: string
  dataDir: string
  /** Longest a database call may take before it counts as unreachable. */
  timeoutMs?: number
  /** RETENTION_DAYS: older attempts and conversations are deleted at start and daily; 0 keeps everything. */
  retentionDays?: number
  logger: Logger
}

export type StoreTarget = { kind: 'sqlite'; filename: string } | { kind: 'postgres'; url: string }

/** Where DATABASE_URL points. */
export function storeTarget(url: string | undefined, dataDir: string): StoreTarget {
  if (url === undefined || url === '') return { kind: 'sqlite', filename: join(resolve(dataDir), 'tutor.sqlite') }
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', url }
  const path = url.replace(/^sqlite:(\/\/)?/, '')
  return { kind: 'sqlite', filename: path === ':memory:' ? path : resolve(path) }
}

export function createStore(options: StoreOptions): Store {
  const store = openStore(options)
  return options.retentionDays ? withRetention(store, options.retentionDays, options.logger) : store
}

const DAY_MS = 86_400_000

/** Deletes what is older than `days` once the schema is ready, then once a day. */
function withRetention(store: Store, days: number, logger: Logger): Store {
  const expire = () =>
    store
      .expire(days)
      .then((rows) => rows && logger.info('deleted data older than RETENTION_DAYS', { rows, days }))
      .catch((error) => logger.warn('retention sweep failed', { error: String(error) }))
  void store.ready.then(expire, () => {})
  const timer = setInterval(expire, DAY_MS)
  timer.unref?.()
  return {
    ...store,
    async close() {
      clearInterval(timer)
      await store.close()
    },
  }
}

function openStore({ url, dataDir, timeoutMs = 5_000, logger }: StoreOptions): Store {
  const target = storeTarget(url, dataDir)
  if (target.kind === 'postgres') {
    const sql = new SQL(target.url, {
      max: 10,
      connectionTimeout: Math.max(1, Math.ceil(timeoutMs / 1000)),
      idleTimeout: 60,
    })
    return createSqlStore({ sql, kind: 'postgres', timeoutMs, logger })
  }
  if (target.filename !== ':memory:') mkdirSync(dirname(target.filename), { recursive: true })
  const sql = new SQL({ adapter: 'sqlite', filename: target.filename, create: true, readwrite: true })
  const configured = (async () => {
    await sql`PRAGMA journal_mode = WAL`
    // In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit survives the process being killed
    // (it is in the WAL file, in the OS cache) but the last ones before a power cut may be lost.
    await sql`PRAGMA synchronous = NORMAL`
    // SQLite takes no parameters in a PRAGMA: a fixed 5 s for another process's write to end.
    await sql`PRAGMA busy_timeout = 5000`
    await sql`PRAGMA foreign_keys = ON`
  })()
  return createSqlStore({ sql, kind: 'sqlite', timeoutMs, logger, before: configured })
}
