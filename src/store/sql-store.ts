/**
 * The Store adapter over Bun's SQL client, for SQLite and PostgreSQL alike: the same tagged-template queries
 * (the client supplies each database's placeholders), the same schema (./migrations). Every call waits for the
 * schema (migrating now if the database was unreachable at start) and for the database within `timeoutMs`; past
 * that, or on any failure of the database, it throws StoreUnavailable.
 */
import type { SQL } from 'bun'
import type { Logger } from '../logging'
import { reasonOf, StoreNotFound, StoreUnavailable } from './errors'
import { migrate, SchemaTooNew, schemaVersion } from './migrate'
import type { Attempt, LearnerStanding, Store, StoreKind, TaskStanding, Viewer } from './port'
import { attemptOf, conversationOf, flag, int, jobOf, messageOf, put, summaryOf, take } from './rows'

export interface SqlStoreOptions {
  sql: SQL
  kind: StoreKind
  /** Longest a call may wait for the database before it counts as unreachable. */
  timeoutMs: number
  logger: Logger
  /** Settles once the connection is set up (SQLite's pragmas); the schema waits for it. */
  before?: Promise<void>
}

const now = () => new Date().toISOString()

/** The attempt being saved beats the standing's best: a higher percent, or as high with as many tests passed. */
const better = (sql: SQL) => sql`(excluded.best_percent > s.best_percent
  OR (excluded.best_percent = s.best_percent AND excluded.best_passed >= s.best_passed))`
/** /health answers quickly even while the database hangs. */
const HEALTH_TIMEOUT_MS = 2_000
const newId = () => Bun.randomUUIDv7()
type Row = Record<string, unknown>

export function createSqlStore({ sql, kind, timeoutMs, logger, before }: SqlStoreOptions): Store {
  let migrated: Promise<number> | undefined
  let schema: number | null = null
  let lastError: string | undefined

  /** Migrates once; a failed try (database away) is forgotten so the next call tries again. */
  const migrateOnce = () =>
    (migrated ??= Promise.resolve(before)
      .then(() => migrate(sql, kind))
      .then(
        (version) => {
          schema = version
          return version
        },
        (error) => {
          if (!(error instanceof SchemaTooNew)) migrated = undefined
          throw error
        },
      ))

  const inTime = <T>(work: Promise<T>, what: string, limitMs = timeoutMs): Promise<T> => {
    let timer: Timer | undefined
    const ms = Math.min(limitMs, timeoutMs)
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailable(`The database did not answer within ${ms} ms (${what})`)),
        ms,
      )
    })
    return Promise.race([work, late]).finally(() => clearTimeout(timer))
  }

  // SQLite is one connection: a statement sent while another call's transaction is open runs inside it, and is
  // lost if that transaction rolls back. So on SQLite calls take turns; PostgreSQL gives each its own connection.
  let turn: Promise<unknown> = Promise.resolve()
  const inTurn = <T>(work: () => Promise<T>): Promise<T> => {
    if (kind !== 'sqlite') return work()
    const result = turn.then(work)
    turn = result.catch(() => {})
    return result
  }

  /** Runs `work` once the schema is in place; every failure of the database becomes StoreUnavailable. */
  const run = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    try {
      const result = await inTime(
        inTurn(() => migrateOnce().then(() => work())),
        what,
      )
      lastError = undefined
      return result
    } catch (error) {
      if (error instanceof SchemaTooNew || error instanceof StoreNotFound) throw error
      lastError = reasonOf(error)
      if (error instanceof StoreUnavailable) throw error
      logger.warn('database call failed', { store: kind, what, reason: lastError, error: String(error) })
      throw new StoreUnavailable(lastError, { cause: error })
    }
  }

  const ready = migrateOnce().then(
    () => {},
    (error) => {
      if (error instanceof SchemaTooNew) throw error
      lastError = reasonOf(error)
      logger.warn('database unreachable at start; trying again on each use', { store: kind, reason: lastError })
    },
  )

  const SUMMARY = () => sql`id, task, created_at, passed, graded, total, percent, success, duration_ms, regrade`

  /** Standings (004-standings.sql) with their last attempt: one row per learner and task. */
  const standings = (where: SQL.Query<unknown>) => sql`
    SELECT s.learner, s.attempts AS attempt_count, s.completed AS any_completed, s.best_passed, s.best_graded,
      s.best_total, s.best_percent, a.id, a.task, a.created_at, a.passed, a.graded, a.total, a.percent, a.success,
      a.duration_ms, a.regrade
    FROM standings s JOIN attempts a ON a.id = s.last_id
    WHERE ${where}
    ORDER BY s.learner, s.task`

  function standingOf(row: Row): { learner: string; standing: TaskStanding } {
    const last = summaryOf(row)
    const best = {
      passed: int(row.best_passed),
      graded: int(row.best_graded),
      total: int(row.best_total),
      percent: Number(row.best_percent),
    }
    return {
      learner: take(row.learner as string),
      standing: { task: last.task, attempts: int(row.attempt_count), best, last, completed: flag(row.any_completed) },
    }
  }

  /** Standings again from the attempts left (after retention removed some). */
  const rebuildStandings = async (tx: SQL) => {
    await tx`DELETE FROM standings`
    await tx`INSERT INTO standings (learner, task, attempts, best_id, best_passed, best_graded, best_total,
        best_percent, last_id, completed)
      SELECT learner, task, attempt_count, id, passed, graded, total, percent, last_id, any_completed
      FROM (
        SELECT learner, task, id, passed, graded, total, percent,
          ROW_NUMBER() OVER (PARTITION BY learner, task ORDER BY percent DESC, passed DESC, id DESC) AS best_rank,
          MAX(id) OVER (PARTITION BY learner, task) AS last_id,
          CAST(COUNT(*) OVER (PARTITION BY learner, task) AS INTEGER) AS attempt_count,
          MAX(completed) OVER (PARTITION BY learner, task) AS any_completed
        FROM attempts
      ) ranked
      WHERE best_rank = 1`
  }

  const jobAttempts = async (id: string) =>
    (await sql`SELECT id FROM attempts WHERE job_id = ${id} ORDER BY id`).map((row: Row) => row.id as string)

  const mine = (viewer: Viewer) => (viewer.admin ? sql`1 = 1` : sql`learner = ${put(viewer.learner)}`)

  return {
    kind,
    ready,

    async health() {
      try {
        const version = await inTime(
          inTurn(() => migrateOnce().then(() => schemaVersion(sql))),
          'health',
          HEALTH_TIMEOUT_MS,
        )
        schema = version
        return { store: { ok: true, kind, reachable: true, schema_version: version } }
      } catch (error) {
        const reason = error instanceof SchemaTooNew ? error.message : reasonOf(error)
        return { store: { ok: false, kind, reachable: false, schema_version: schema, error: reason } }
      }
    },

    saveAttempt: (attempt) =>
      run('save attempt', async () => {
        const id = newId()
        const created_at = now()
        const { score } = attempt
        const completed = score.graded > 0 && score.passed === score.graded
        const learner = put(attempt.learner)
        const task = put(attempt.task)
        await sql.begin(async (tx) => {
          await tx`INSERT INTO attempts (id, learner, task, created_at, passed, graded, total, percent, success,
              completed, duration_ms, include_private, regrade, job_id, files, group_summaries, results)
            VALUES (${id}, ${learner}, ${task}, ${created_at}, ${score.passed}, ${score.graded}, ${score.total},
              ${score.percent}, ${attempt.success ? 1 : 0}, ${completed ? 1 : 0}, ${attempt.duration_ms},
              ${attempt.include_private ? 1 : 0}, ${attempt.regrade ? 1 : 0}, ${attempt.job ?? null},
              ${JSON.stringify(attempt.files)}, ${JSON.stringify(attempt.groups)}, ${JSON.stringify(attempt.results)})`
          // The newest attempt wins a tie for best; `last` stays the greatest id whatever order commits come in.
          await tx`INSERT INTO standings AS s (learner, task, attempts, best_id, best_passed, best_graded, best_total,
              best_percent, last_id, completed)
            VALUES (${learner}, ${task}, 1, ${id}, ${score.passed}, ${score.graded}, ${score.total}, ${score.percent},
              ${id}, ${completed ? 1 : 0})
            ON CONFLICT (learner, task) DO UPDATE SET
              attempts = s.attempts + 1,
              best_id = CASE WHEN ${better(tx)} THEN excluded.best_id ELSE s.best_id END,
              best_passed = CASE WHEN ${better(tx)} THEN excluded.best_passed ELSE s.best_passed END,
              best_graded = CASE WHEN ${better(tx)} THEN excluded.best_graded ELSE s.best_graded END,
              best_total = CASE WHEN ${better(tx)} THEN excluded.best_total ELSE s.best_total END,
              best_percent = CASE WHEN ${better(tx)} THEN excluded.best_percent ELSE s.best_percent END,
              last_id = CASE WHEN excluded.last_id > s.last_id THEN excluded.last_id ELSE s.last_id END,
              completed = CASE WHEN excluded.completed > s.completed THEN excluded.completed ELSE s.completed END`
        })
        return {
          id,
          task: attempt.task,
          created_at,
          score,
          success: attempt.success,
          duration_ms: attempt.duration_ms,
          regrade: attempt.regrade ?? false,
        }
      }),

    listAttempts: (viewer, { task, limit, before }) =>
      run('list attempts', async () => {
        const rows = await sql`SELECT ${SUMMARY()} FROM attempts
          WHERE learner = ${put(viewer.learner)}
            ${task === undefined ? sql`` : sql`AND task = ${put(task)}`}
            ${before === undefined ? sql`` : sql`AND id < ${put(before)}`}
          ORDER BY id DESC LIMIT ${limit + 1}`
        const page = rows.slice(0, limit).map(summaryOf)
        return { attempts: page, next: rows.length > limit ? page[page.length - 1]!.id : null }
      }),

    getAttempt: (viewer, id) =>
      run('read attempt', async () => {
        const [row] = await sql`SELECT * FROM attempts WHERE id = ${put(id)} AND ${mine(viewer)}`
        return row ? attemptOf(row) : undefined
      }),

    lastAttempt: (learner, task) =>
      run('read last attempt', async () => {
        const [row] = await sql`SELECT * FROM attempts WHERE learner = ${put(learner)} AND task = ${put(task)}
          ORDER BY id DESC LIMIT 1`
        return row ? attemptOf(row) : undefined
      }),

    latestAttempts: (task, learner) =>
      run('read latest attempts', async () => {
        const rows = await sql`SELECT * FROM attempts WHERE id IN (
            SELECT MAX(id) FROM attempts WHERE task = ${put(task)}
              ${learner === undefined ? sql`` : sql`AND learner = ${put(learner)}`}
            GROUP BY learner)
          ORDER BY learner`
        return rows.map(attemptOf) as Attempt[]
      }),

    progress: (learner) =>
      run('read progress', async () =>
        (await standings(sql`s.learner = ${put(learner)}`)).map((row: Row) => standingOf(row).standing),
      ),

    classProgress: (task) =>
      run('read class progress', async () => {
        const rows = await standings(task === undefined ? sql`1 = 1` : sql`s.task = ${put(task)}`)
        const learners = new Map<string, LearnerStanding>()
        for (const { learner, standing } of rows.map(standingOf)) {
          let entry = learners.get(learner)
          if (!entry) learners.set(learner, (entry = { learner, tasks: [] }))
          entry.tasks.push({
            task: standing.task,
            attempts: standing.attempts,
            best: standing.best,
            last_at: standing.last?.created_at ?? null,
            last: standing.last?.score ?? null,
            completed: standing.completed,
          })
        }
        return [...learners.values()]
      }),

    deleteLearnerData: (learner) =>
      run('delete learner data', () =>
        sql.begin(async (tx) => {
          const name = put(learner)
          const attempts = await tx`DELETE FROM attempts WHERE learner = ${name}`
          await tx`DELETE FROM standings WHERE learner = ${name}`
          await tx`DELETE FROM messages WHERE conversation_id IN
            (SELECT id FROM conversations WHERE learner = ${name})`
          const conversations = await tx`DELETE FROM conversations WHERE learner = ${name}`
          await tx`DELETE FROM regrade_jobs WHERE learner = ${name}`
          return { attempts: attempts.count, conversations: conversations.count }
        }),
      ),

    expire: (days) =>
      run('expire old data', () =>
        sql.begin(async (tx) => {
          // At the cutoff counts as past it: with `days` 0 a row saved in this very millisecond goes too.
          const cutoff = new Date(Date.now() - days * 86_400_000).toISOString()
          const attempts = await tx`DELETE FROM attempts WHERE created_at <= ${cutoff}`
          if (attempts.count > 0) await rebuildStandings(tx)
          await tx`DELETE FROM messages WHERE conversation_id IN
            (SELECT id FROM conversations WHERE updated_at <= ${cutoff})`
          const conversations = await tx`DELETE FROM conversations WHERE updated_at <= ${cutoff}`
          const jobs = await tx`DELETE FROM regrade_jobs WHERE heartbeat_at <= ${cutoff}
            AND status IN ('done', 'failed')`
          return attempts.count + conversations.count + jobs.count
        }),
      ),

    createConversation: (learner, task, title) =>
      run('create conversation', async () => {
        const id = newId()
        const at = now()
        await sql`INSERT INTO conversations (id, learner, task, title, created_at, updated_at, message_count)
          VALUES (${id}, ${put(learner)}, ${task === null ? null : put(task)}, ${put(title)}, ${at}, ${at}, 0)`
        return { id, learner, task, title, created_at: at, updated_at: at, messages: 0 }
      }),

    appendMessages: (id, messages) =>
      run('append messages', () =>
        sql.begin(async (tx) => {
          const at = now()
          // Taking the count first locks the conversation's row: concurrent appends get consecutive positions.
          const [row] = await tx`UPDATE conversations
            SET message_count = message_count + ${messages.length}, updated_at = ${at}
            WHERE id = ${put(id)} RETURNING message_count`
          if (!row) throw new StoreNotFound(`No conversation ${id}`)
          const first = int(row.message_count) - messages.length
          for (const [index, message] of messages.entries()) {
            await tx`INSERT INTO messages (conversation_id, position, role, content, created_at, hint_level)
              VALUES (${id}, ${first + index}, ${message.role}, ${put(message.content)}, ${at},
                ${message.hint_level ?? null})`
          }
        }),
      ),

    listConversations: (viewer, { task }) =>
      run('list conversations', async () => {
        const rows = await sql`SELECT * FROM conversations WHERE learner = ${put(viewer.learner)}
          ${task === undefined ? sql`` : sql`AND task = ${put(task)}`}
          ORDER BY updated_at DESC, id DESC`
        return rows.map(conversationOf)
      }),

    getConversation: (viewer, id) =>
      run('read conversation', async () => {
        const [row] = await sql`SELECT * FROM conversations WHERE id = ${put(id)} AND ${mine(viewer)}`
        if (!row) return undefined
        const messages = await sql`SELECT * FROM messages WHERE conversation_id = ${row.id as string}
          ORDER BY position`
        const summary = conversationOf(row)
        return { id: summary.id, learner: summary.learner, task: summary.task, messages: messages.map(messageOf) }
      }),

    deleteConversation: (viewer, id) =>
      run('delete conversation', () =>
        sql.begin(async (tx) => {
          const owned = viewer.admin ? tx`1 = 1` : tx`learner = ${put(viewer.learner)}`
          const [row] = await tx`SELECT id FROM conversations WHERE id = ${put(id)} AND ${owned}`
          if (!row) return false
          await tx`DELETE FROM messages WHERE conversation_id = ${row.id as string}`
          await tx`DELETE FROM conversations WHERE id = ${row.id as string}`
          return true
        }),
      ),

    createJob: (task, learner, total) =>
      run('create job', async () => {
        const id = newId()
        const at = now()
        await sql`INSERT INTO regrade_jobs (id, task, learner, status, done, total, created_at, heartbeat_at)
          VALUES (${id}, ${put(task)}, ${learner === null ? null : put(learner)}, 'queued', 0, ${total}, ${at}, ${at})`
        return { id, task, learner, status: 'queued' as const, done: 0, total, attempts: [] }
      }),

    updateJob: (id, change) =>
      run('update job', async () => {
        const [row] = await sql`SELECT * FROM regrade_jobs WHERE id = ${put(id)}`
        if (!row) return
        await sql`UPDATE regrade_jobs SET
            status = ${change.status ?? (row.status as string)},
            done = ${change.done ?? int(row.done)},
            total = ${change.total ?? int(row.total)},
            error = ${change.error === undefined ? (row.error as string | null) : put(change.error)},
            heartbeat_at = ${now()}
          WHERE id = ${put(id)}`
      }),

    getJob: (id) =>
      run('read job', async () => {
        const [row] = await sql`SELECT * FROM regrade_jobs WHERE id = ${put(id)}`
        return row ? jobOf(row, await jobAttempts(row.id as string)) : undefined
      }),

    failUnfinishedJobs: (olderThanMs) =>
      run('fail unfinished jobs', async () => {
        const cutoff = new Date(Date.now() - olderThanMs).toISOString()
        const result = await sql`UPDATE regrade_jobs
          SET status = 'failed', error = ${'The server running this job stopped before it finished'}
          WHERE status IN ('queued', 'running') AND heartbeat_at <= ${cutoff}`
        return result.count
      }),

    async close() {
      await sql.close({ timeout: 1 }).catch(() => {})
    },
  }
}
