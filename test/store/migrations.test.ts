import { describe, expect, test } from 'bun:test'
import { SQL } from 'bun'
import { createLogger } from '../../src/logging'
import { createStore, SchemaTooNew } from '../../src/store'
import { StoreUnavailable } from '../../src/store/errors'
import { storeBackends } from './backends'
import { attempt } from './fixtures'

const { backends: BACKENDS, freshStore } = storeBackends()

/** A plain client on the same database, to look at or tamper with what the store wrote. */
const direct = (url: string) =>
  url.startsWith('sqlite:') ? new SQL({ adapter: 'sqlite', filename: url.slice('sqlite:'.length) }) : new SQL(url)

for (const backend of BACKENDS) {
  const label = `migrations on ${backend.kind}${backend.skip ? ` (skipped: ${backend.skip})` : ''}`
  describe.skipIf(Boolean(backend.skip))(label, () => {
    test('run once each, in order; a second start keeps the data and runs nothing again', async () => {
      const url = await backend.url('migrate')
      const first = await freshStore(backend, 'migrate', 5_000, url)
      const saved = await first.saveAttempt(attempt('amy', 'x', 1))
      await first.close()
      const again = await freshStore(backend, 'migrate', 5_000, url)
      expect((await again.getAttempt({ learner: 'amy', admin: false }, saved.id))?.id).toBe(saved.id)
      const sql = direct(url)
      const rows = await sql`SELECT version, name FROM schema_migrations ORDER BY version`
      await sql.close()
      expect(rows.map((row: { version: number; name: string }) => [row.version, row.name])).toEqual([
        [1, '001-attempts'],
        [2, '002-conversations'],
        [3, '003-regrade-jobs'],
        [4, '004-standings'],
      ])
    })

    test('a database from before the standings table gets it filled from its attempts', async () => {
      const url = await backend.url('backfill')
      const first = await freshStore(backend, 'backfill', 5_000, url)
      const low = await first.saveAttempt(attempt('uma', 'x', 1))
      const high = await first.saveAttempt(attempt('uma', 'x', 3))
      const last = await first.saveAttempt(attempt('uma', 'x', 2))
      const expected = await first.progress('uma')
      await first.close()
      // Back to schema 3, as a server of that version left it.
      const sql = direct(url)
      await sql`DROP TABLE standings`
      await sql`DELETE FROM schema_migrations WHERE version = ${4}`
      await sql.close()
      const again = await freshStore(backend, 'backfill', 5_000, url)
      expect(await again.progress('uma')).toEqual(expected)
      expect(expected).toEqual([{ task: 'x', attempts: 3, best: high.score, last, completed: false }])
      expect(low.score.passed).toBe(1)
    })

    test('a schema newer than this server knows is refused with a message that says what to do', async () => {
      const url = await backend.url('newer')
      const first = await freshStore(backend, 'newer', 5_000, url)
      await first.close()
      const sql = direct(url)
      await sql`INSERT INTO schema_migrations (version, name, applied_at) VALUES (${99}, ${'099-future'}, ${'x'})`
      await sql.close()
      const store = createStore({ url, dataDir: '/nonexistent', logger: createLogger('silent') })
      try {
        const refused = await store.ready.then(
          () => undefined,
          (error) => error,
        )
        expect(refused).toBeInstanceOf(SchemaTooNew)
        expect(refused.message).toContain('version 99, newer than version 4')
        expect((await store.health()).store).toMatchObject({ ok: false, error: expect.stringContaining('newer') })
        // Nothing is written into a database this server does not understand.
        expect(await store.saveAttempt(attempt('amy', 'x', 1)).catch((error) => error)).toBeInstanceOf(SchemaTooNew)
      } finally {
        await store.close()
      }
    })
  })
}

describe('SQLite settings', () => {
  test('the database file is in WAL mode', async () => {
    const url = await BACKENDS[0]!.url('wal')
    const store = await freshStore(BACKENDS[0]!, 'wal', 5_000, url)
    await store.health()
    const sql = direct(url)
    const [row] = await sql`PRAGMA journal_mode`
    await sql.close()
    expect(row.journal_mode).toBe('wal')
  })
})

const postgres = BACKENDS[1]!
describe.skipIf(Boolean(postgres.skip))(
  `PostgreSQL going away${postgres.skip ? ` (skipped: ${postgres.skip})` : ''}`,
  () => {
    test('calls fail as unavailable while it is down and work again once it is back, by themselves', async () => {
      const store = await freshStore(postgres, 'away', 2_000)
      await store.saveAttempt(attempt('bea', 'x', 1))
      const server = postgres.server!()
      await server.kill()
      expect(await store.saveAttempt(attempt('bea', 'x', 2)).catch((error) => error)).toBeInstanceOf(StoreUnavailable)
      expect((await store.health()).store).toMatchObject({ ok: false, reachable: false, kind: 'postgres' })
      await server.restart()
      const saved = await store.saveAttempt(attempt('bea', 'x', 3))
      expect((await store.getAttempt({ learner: 'bea', admin: false }, saved.id))?.score.passed).toBe(3)
      expect((await store.health()).store).toMatchObject({ ok: true, reachable: true })
    })
  },
)
