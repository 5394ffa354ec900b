/**
 * Grading wall times with a warm browser (docs/grading.md, "Grading"): the 11 browser tests of Tic Tac Toe against its
 * reference front end, all at once through execute-test-cases (goal: 3 s on 2 cores), and a whole-task
 * POST /api/grade of Tic Tac Toe (endpoint tests in the sandbox, browser tests in Chromium, design tests skipped:
 * no judge is configured here), each with the task's solution.py as backend.
 * Run: `bun bench/grade.bench.ts` or `bun run bench grade` (BENCH_RUNS sets the sample count, default 5).
 */
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createApp } from '../src/app'
import { loadConfig } from '../src/config'
import { BENCH_UID_BASE, postJson } from './measure'

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const TASK = resolve(import.meta.dir, '../tasks/tic-tac-toe')
const read = (path: string) => readFileSync(join(TASK, path), 'utf8')
const frontendCode = Object.fromEntries(
  ['index.html', 'style.css', 'script.js'].map((name) => [name, read(`reference/${name}`)]),
)
const backendCode = read('solution.py')
const browserTests: string[] = JSON.parse(read('tests/frontend/01-playing.json')).tests.map(
  (t: { name: string }) => t.name,
)

const median = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!
const row = (name: string, samples: Sample[], goalMs?: number) => ({
  name,
  runs: samples.length,
  median_ms: Math.round(median(samples.map((s) => s.ms))),
  min_ms: Math.round(Math.min(...samples.map((s) => s.ms))),
  max_ms: Math.round(Math.max(...samples.map((s) => s.ms))),
  // A run where a test did not pass (on a loaded host: a test over BROWSER_TEST_TIMEOUT_MS) still counts.
  runs_not_all_passed: samples.filter((s) => !s.allPassed).length,
  ...(goalMs ? { goal_ms: goalMs } : {}),
})

interface Sample {
  ms: number
  allPassed: boolean
}

async function timed(
  action: () => Promise<{ summary: { passed: number; total: number } }>,
  expected: number,
): Promise<Sample> {
  const started = performance.now()
  const answer = await action()
  return { ms: performance.now() - started, allPassed: answer.summary?.passed === expected }
}

export async function run() {
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    RATE_EXECUTION_PER_MIN: '0',
    TASKS_DIR: resolve(TASK, '..'),
    SANDBOX_UID_BASE: BENCH_UID_BASE,
    DATABASE_URL: 'sqlite::memory:',
  })
  const app = createApp({ config })
  const { services } = app.decorator
  try {
    if (!services.browser.available()) return [{ name: `no Chromium at ${config.BROWSER_PATH}: nothing to measure` }]
    const browserOnly = () =>
      postJson(app, '/api/execute-test-cases', {
        task: 'tic-tac-toe',
        tests: browserTests,
        include_private: true,
        backendCode,
        frontendCode,
      })
    const grade = () =>
      postJson(app, '/api/grade', { task: 'tic-tac-toe', include_private: true, backendCode, frontendCode })
    const whole = await grade() // warms the browser and the sandbox
    const endpointAndBrowser = whole.groups.backend.total + whole.groups.frontend.total
    const browser: Sample[] = []
    const graded: Sample[] = []
    for (let i = 0; i < RUNS; i++) browser.push(await timed(browserOnly, browserTests.length))
    for (let i = 0; i < RUNS; i++) graded.push(await timed(grade, endpointAndBrowser))
    return [
      row(
        `all ${browserTests.length} Tic Tac Toe browser tests, wall (BROWSER_CONCURRENCY=${config.BROWSER_CONCURRENCY})`,
        browser,
        3000,
      ),
      row(
        `whole-task grading of Tic Tac Toe (${endpointAndBrowser} tests; ${whole.groups.html.total} design tests skipped)`,
        graded,
      ),
    ]
  } finally {
    const { closeServices } = await import('../src/app')
    await closeServices(services)
  }
}

if (import.meta.main) {
  console.table(await run())
  process.exit(0)
}
