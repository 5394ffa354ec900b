/**
 * Forward-only schema migrations: the numbered files in ./migrations, embedded in the binary, applied in order in
 * one transaction at start. `schema_migrations` remembers which ran. A database whose schema is newer than the
 * newest file this server knows (a newer server migrated it) is refused, rather than written with an old layout.
 */
import type { SQL } from 'bun'
import attempts from './migrations/001-attempts.sql' with { type: 'text' }
import conversations from './migrations/002-conversations.sql' with { type: 'text' }
import regradeJobs from './migrations/003-regrade-jobs.sql' with { type: 'text' }
import standings from './migrations/004-standings.sql' with { type: 'text' }
import type { StoreKind } from './port'

export const MIGRATIONS = [
  { version: 1, name: '001-attempts', text: attempts },
  { version: 2, name: '002-conversations', text: conversations },
  { version: 3, name: '003-regrade-jobs', text: regradeJobs },
  { version: 4, name: '004-standings', text: standings },
] as const

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version

/** Two replicas starting at once on one PostgreSQL migrate one after the other (a transaction-scoped lock). */
const MIGRATION_LOCK = 482_801

export class SchemaTooNew extends Error {
  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(
      `The database schema is version ${found}, newer than version ${known} that this server knows: ` +
        'a newer server has migrated it. Run that version (or newer), or point DATABASE_URL at another database.',
    )
    this.name = 'SchemaTooNew'
  }
}

/** The schema version a database has now (0: none). */
export async function schemaVersion(sql: SQL): Promise<number> {
  const [row] = await sql`SELECT CAST(MAX(version) AS INTEGER) AS version FROM schema_migrations`
  return (row?.version as number | null) ?? 0
}

/** Brings the schema up to SCHEMA_VERSION; answers the version it is at. Throws SchemaTooNew. */
export async function migrate(sql: SQL, kind: StoreKind): Promise<number> {
  return sql.begin(async (tx) => {
    if (kind === 'postgres') await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at TEXT NOT NULL
    )`
    const current = await schemaVersion(tx)
    if (current > SCHEMA_VERSION) throw new SchemaTooNew(current, SCHEMA_VERSION)
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue
      // A whole file of fixed statements shipped with the server (never built from input): the client runs it as is.
      await tx.unsafe(migration.text)
      await tx`INSERT INTO schema_migrations (version, name, applied_at)
        VALUES (${migration.version}, ${migration.name}, ${new Date().toISOString()})`
    }
    return SCHEMA_VERSION
  })
}
