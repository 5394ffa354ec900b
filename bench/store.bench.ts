/**
 * The store under a class's worth of data, on SQLite and on PostgreSQL: seeds LEARNERS × 3 tasks × ATTEMPTS
 * attempts (with files and results, as gradings save them), then measures saving one attempt (p99), GET
 * /api/progress and GET /api/attempts (p95), the admin progress and CSV for the whole class, what saving adds to
 * a POST /api/grade answer, and bytes on disk per attempt. PostgreSQL is started like the tests start it
 * (test/support/postgres.ts); without it only SQLite is measured.
 * Run: `bun bench/store.bench.ts` or `bun run bench store`; BENCH_LEARNERS (300), BENCH_ATTEMPTS (30 per learner
 * and task) and BENCH_SAMPLES (200) make it smaller for a quick check.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SQL } from 'bun'
import { closeServices, createApp } from '../src/app'
import { loadConfig } from '../src/config'
import type { NewAttempt } from '../src/store/port'
import { startPostgres } from '../test/support/postgres'
import { percentile } from './measure'

const LEARNERS = Number(process.env.BENCH_LEARNERS ?? 300)
const ATTEMPTS = Number(process.env.BENCH_ATTEMPTS ?? 30)
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200)
const TASKS = ['calculator-app', 'tic-tac-toe', 'todo-list-app']

const none = { total: 0, passed: 0, failed: 0, errors: 0, skipped: 0 }
const CODE = `@endpoint('/calculate')\ndef calculate(a, b, operator):\n${'    # a learner program of about 2 KB\n'.repeat(50)}    return {"result": a + b}\n`

/** An attempt about the size a real grading saves: 2 KB of code, 12 results. */
function attemptOf(learner: string, task: string, n: number): NewAttempt {
  const passed = n % 13
  return {
    learner,
    task,
    files: { backendCode: CODE },
    score: { passed, graded: 12, total: 12, percent: Math.round((1000 * passed) / 12) / 10 },
    success: passed === 12,
    groups: { backend: { ...none, total: 12, passed, failed: 12 - passed }, frontend: none, html: none },
    results: Array.from({ length: 12 }, (_, i) => ({
      testName: `Test number ${i}`,
      status: i < passed ? ('pass' as const) : ('fail' as const),
      message: i < passed ? 'Passed' : 'Expected {"result": 5}, got {"result": 4}',
      expected: { result: 5 },
      actual: { result: i < passed ? 5 : 4 },
      duration_ms: 3.2,
      group: 'backend' as const,
      kind: 'endpoint' as const,
    })),
    duration_ms: 480,
    include_private: false,
  }
}

async function timed(work: () => Promise<unknown>, samples: number): Promise<number[]> {
  const times: number[] = []
  for (let i = 0; i < samples; i++) {
    const started = performance.now()
    await work()
    times.push(performance.now() - started)
  }
  return times
}

async function measure(database: 'sqlite' | 'postgres', url: string, bytesOnDisk: () => Promise<number>) {
  const config = loadConfig({ LOG_LEVEL: 'silent', DATABASE_URL: url, EXEC_POOL_SIZE: '0' })
  const app = createApp({ config })
  const { store } = app.decorator.services
  await store.ready
  // Everyone but `local` (the open server's learner, who asks below) first, a few saves at a time.
  const learners = ['local', ...Array.from({ length: LEARNERS - 1 }, (_, i) => `learner-${i}`)]
  const jobs: [string, string, number][] = []
  for (let n = 0; n < ATTEMPTS; n++)
    for (const task of TASKS) for (const learner of learners) jobs.push([learner, task, n])
  const seedStarted = performance.now()
  const parallel = database === 'postgres' ? 8 : 1
  for (let i = 0; i < jobs.length; i += parallel) {
    await Promise.all(
      jobs.slice(i, i + parallel).map(([learner, task, n]) => store.saveAttempt(attemptOf(learner, task, n))),
    )
  }
  const seedS = (performance.now() - seedStarted) / 1000
  const get = (path: string) => app.handle(new Request(`http://localhost${path}`)).then((r) => r.arrayBuffer())
  const grade = (save: boolean) =>
    app
      .handle(
        new Request('http://localhost/api/grade', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ task: 'calculator-app', save }),
        }),
      )
      .then((r) => r.arrayBuffer())

  const save = await timed(() => store.saveAttempt(attemptOf('local', 'calculator-app', 1)), SAMPLES)
  const progress = await timed(() => get('/api/progress'), SAMPLES)
  const attempts = await timed(() => get('/api/attempts?limit=20'), SAMPLES)
  const few = Math.max(3, Math.round(SAMPLES / 20))
  const admin = await timed(() => get('/api/admin/progress'), few)
  const csv = await timed(() => get('/api/admin/grades.csv'), few)
  const unsaved = await timed(() => grade(false), SAMPLES)
  const saved = await timed(() => grade(true), SAMPLES)
  const total = jobs.length + SAMPLES * 2
  const bytes = await bytesOnDisk()
  await closeServices(app.decorator.services)
  const ms = (value: number) => Math.round(value * 100) / 100
  return [
    { database, measure: 'seed attempts', value: jobs.length, unit: `in ${seedS.toFixed(1)} s`, goal: '' },
    {
      database,
      measure: 'save attempt p99',
      value: ms(percentile(save, 99)),
      unit: 'ms',
      goal: database === 'sqlite' ? '≤ 5' : '≤ 10',
    },
    { database, measure: 'GET /api/progress p95', value: ms(percentile(progress, 95)), unit: 'ms', goal: '≤ 20' },
    { database, measure: 'GET /api/attempts p95', value: ms(percentile(attempts, 95)), unit: 'ms', goal: '≤ 20' },
    {
      database,
      measure: `admin progress (${LEARNERS} learners) median`,
      value: ms(percentile(admin, 50)),
      unit: 'ms',
      goal: '≤ 150',
    },
    { database, measure: 'grades.csv median', value: ms(percentile(csv, 50)), unit: 'ms', goal: '≤ 300' },
    {
      database,
      measure: 'saving adds to a grade (median)',
      value: ms(percentile(saved, 50) - percentile(unsaved, 50)),
      unit: 'ms',
      goal: '≤ 2',
    },
    { database, measure: 'bytes on disk per attempt', value: Math.round(bytes / total), unit: 'B', goal: '' },
  ]
}

export async function run(): Promise<Record<string, unknown>[]> {
  const folder = mkdtempSync(join(tmpdir(), 'tutor-store-bench-'))
  const rows: Record<string, unknown>[] = []
  try {
    const file = join(folder, 'tutor.sqlite')
    rows.push(
      ...(await measure('sqlite', `sqlite:${file}`, async () => {
        const sql = new SQL({ adapter: 'sqlite', filename: file })
        await sql`PRAGMA wal_checkpoint(TRUNCATE)`
        await sql.close()
        return statSync(file).size
      })),
    )
    const postgres = await startPostgres()
    if (!postgres) rows.push({ database: 'postgres', measure: 'skipped: PostgreSQL is not installed' })
    else {
      try {
        const url = await postgres.database('bench')
        rows.push(
          ...(await measure('postgres', url, async () => {
            const sql = new SQL(url, { max: 1 })
            const [row] = await sql`SELECT CAST(pg_total_relation_size('attempts') AS BIGINT) AS bytes`
            await sql.close()
            return Number(row.bytes)
          })),
        )
      } finally {
        await postgres.stop()
      }
    }
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
  return rows
}

if (import.meta.main) {
  console.table(await run())
  process.exit(0)
}
