/**
 * The two databases every store test runs against: a SQLite file in a temp folder, and a real PostgreSQL started
 * for the test file (test/support/postgres.ts). Call `storeBackends()` at the top of each test file: the server,
 * the folder and the stores are that file's own and go away after its tests. PostgreSQL missing → its tests are
 * skipped, saying why.
 */
import { afterAll } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLogger } from '../../src/logging'
import { createStore } from '../../src/store'
import type { Store } from '../../src/store/port'
import { NO_POSTGRES, POSTGRES_BIN, startPostgres, type TestPostgres } from '../support/postgres'

export interface Backend {
  kind: 'sqlite' | 'postgres'
  /** Why this backend's tests are skipped, if they are. */
  skip?: string
  /** A fresh, empty database's DATABASE_URL. */
  url(name: string): Promise<string>
  /** The PostgreSQL server itself (to stop and start it). */
  server?: () => TestPostgres
}

export function storeBackends() {
  const folder = mkdtempSync(join(tmpdir(), 'tutor-store-'))
  let postgres: Promise<TestPostgres | undefined> | undefined
  let started: TestPostgres | undefined
  let databases = 0
  const opened: Store[] = []
  afterAll(async () => {
    await Promise.all(opened.map((store) => store.close()))
    rmSync(folder, { recursive: true, force: true })
    await (await postgres)?.stop()
  })
  const pg = async () => {
    started = await (postgres ??= startPostgres())
    return started!
  }

  const backends: [Backend, Backend] = [
    { kind: 'sqlite', url: async (name) => `sqlite:${join(folder, `${name}-${++databases}.sqlite`)}` },
    {
      kind: 'postgres',
      ...(POSTGRES_BIN ? {} : { skip: NO_POSTGRES }),
      url: async (name) => (await pg()).database(`${name.replace(/\W/g, '_').toLowerCase()}_${++databases}`),
      server: () => started!,
    },
  ]

  /** A store on a fresh database of `backend` (or on `url`); closed after the file's tests. */
  async function freshStore(backend: Backend, name: string, timeoutMs = 5_000, url?: string): Promise<Store> {
    const target = url ?? (await backend.url(name))
    const store = createStore({ url: target, dataDir: folder, timeoutMs, logger: createLogger('silent') })
    opened.push(store)
    await store.ready
    return store
  }

  return { backends, freshStore, folder }
}
