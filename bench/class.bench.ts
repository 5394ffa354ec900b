/**
 * A class grading at once, through the real HTTP API of the real server (`bun src/index.ts`, a child process on
 * 127.0.0.1, bench/server.ts): N learners, each with an access key of its own, send one POST /api/grade of Tic Tac
 * Toe at the same moment, with the task's reference front end and its solution.py as backend. No judge is
 * configured, so the design tests are skipped; every endpoint and browser test must pass (a correct solution must
 * always be graded correct, under load too).
 *
 * - one learner alone: the first grading (the warm-up, which starts the browser), then the median of 3 warm ones;
 * - the class: answers (200 of N), gradings graded correct (the failing tests named), wall time per grading
 *   (p50/p95/max) and of the whole wave; meanwhile GET /health from a process of its own (one probe 100 ms
 *   after the last answer), the server's RSS (VmRSS, every 100 ms) and the PSS of every process running as one of this
 *   run's sandbox uids (the browser, and the Python boxes: every 250 ms);
 * - cold: a fresh server, its first grading right after /health first answers, against the median of the next 3
 *   on the same server; once with BROWSER_PREWARM=false, once with BROWSER_PREWARM=true (there the first grading
 *   waits until /health says the browser is running, and that time is reported).
 * The machine's CPUs and load average before the run are printed with the figures: on a loaded host they are slower.
 *
 * Run: `bun bench/class.bench.ts` or `bun run bench class`. BENCH_CLASS_LEARNERS (N, default 30, 1-200),
 * BENCH_CLASS_TIMEOUT_MS (limit of one request, default 180000). BROWSER_PATH, BROWSER_CONCURRENCY and
 * EXEC_CONCURRENCY are passed on to the servers when set.
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { BENCH_UID_BASE, loadAverage, memoryMiB, percentile, processesOfUids } from './measure'
import { probeHealthApart, rssMb, startServer, type Server } from './server'

const ROOT = resolve(import.meta.dir, '..')
const LEARNERS = Number(process.env.BENCH_CLASS_LEARNERS ?? 30)
const REQUEST_TIMEOUT_MS = Number(process.env.BENCH_CLASS_TIMEOUT_MS ?? 180_000)
/** Single gradings behind each baseline: alone on the class's server, and after each cold one. */
const WARM_RUNS = 3
/** Longest wait for BROWSER_PREWARM to have the browser running, and for a stopped server's processes to end. */
const BROWSER_UP_WITHIN_MS = 60_000
const STOP_WITHIN_MS = 15_000
/** Host uids of this run's sandboxes (bench/server.ts starts every server with SANDBOX_UID_BASE = BENCH_UID_BASE). */
const UID_FIRST = Number(BENCH_UID_BASE)
const UID_END = UID_FIRST + 1000

// ---- what a learner sends ----

const TASK = join(ROOT, 'tasks/tic-tac-toe')
const GRADE_BODY = JSON.stringify({
  task: 'tic-tac-toe',
  include_private: true,
  backendCode: readFileSync(join(TASK, 'solution.py'), 'utf8'),
  frontendCode: Object.fromEntries(
    ['index.html', 'style.css', 'script.js'].map((name) => [name, readFileSync(join(TASK, 'reference', name), 'utf8')]),
  ),
})

// ---- the keys: one per learner, and one for the monitor that reads the detailed /health ----

const learnerKey = (i: number) => `bench-class-learner-${i}-${'k'.repeat(16)}`
const MONITOR_KEY = `bench-class-monitor-${'m'.repeat(16)}`
const sha256 = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`

/**
 * An API_KEYS_FILE of `LEARNERS` learner keys and the monitor's admin key. Each learner key lifts its own limits
 * (executionPerMin=0: no requests-per-minute limit; concurrentExecutions=0: no cap on gradings in flight), so no
 * grading is refused for rate reasons while RATE_EXECUTION_PER_MIN and CONCURRENT_EXECUTIONS_PER_CLIENT keep their
 * defaults: the class is one request per key, and the per-key overrides are what lets it through.
 */
function writeKeysFile(dir: string): string {
  const file = join(dir, 'keys.txt')
  const learners = Array.from(
    { length: LEARNERS },
    (_, i) => `learner-${i} ${sha256(learnerKey(i))} learner executionPerMin=0 concurrentExecutions=0`,
  )
  writeFileSync(file, [...learners, `monitor ${sha256(MONITOR_KEY)} admin`].join('\n'))
  return file
}

/** The environment of every server here: the keys, and the few settings passed on from this one's environment. */
function serverEnv(keysFile: string, extra: Record<string, string> = {}): Record<string, string> {
  const passed = ['BROWSER_PATH', 'BROWSER_CONCURRENCY', 'EXEC_CONCURRENCY'].filter((name) => process.env[name])
  return {
    API_KEYS_FILE: keysFile,
    ...Object.fromEntries(passed.map((name) => [name, process.env[name]!])),
    ...extra,
  }
}

// ---- one grading ----

interface TestOutcome {
  testName: string
  group: 'backend' | 'frontend' | 'html'
  status: 'pass' | 'fail' | 'error' | 'skip'
  message: string
  reason?: string
}

interface Grading {
  ms: number
  /** The HTTP status, or 0 when no answer came (timeout, connection refused). */
  status: number
  /** Why it was not a 200: the status and the server's error_type, or the client's error. */
  refusal?: string
  /** Every endpoint and browser test ran and passed. */
  correct: boolean
  /** The endpoint and browser tests that did not pass, as `name [status/reason]: message`. */
  failures: string[]
}

async function grade(server: Server, key: string): Promise<Grading> {
  const started = performance.now()
  try {
    const response = await fetch(`${server.base}/api/grade`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: GRADE_BODY,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
    const text = await response.text()
    const ms = performance.now() - started
    if (!response.ok) {
      const refusal = `${response.status} ${(/"error_type":"([^"]*)"/.exec(text)?.[1] ?? text).slice(0, 100)}`
      return { ms, status: response.status, refusal, correct: false, failures: [] }
    }
    const answer = JSON.parse(text)
    const graded = (answer.results as TestOutcome[]).filter((r) => r.group === 'backend' || r.group === 'frontend')
    const failures = graded
      .filter((r) => r.status !== 'pass')
      .map((r) => `${r.testName} [${r.status}${r.reason ? `/${r.reason}` : ''}]: ${r.message}`)
    const ran = answer.groups.backend.total > 0 && answer.groups.frontend.total > 0
    return { ms, status: 200, correct: ran && failures.length === 0, failures }
  } catch (error) {
    const refusal = `no answer: ${(error as Error).name} ${(error as Error).message}`
    return { ms: performance.now() - started, status: 0, refusal, correct: false, failures: [] }
  }
}

/** `runs` gradings one after the other with learner 0's key. */
async function gradeInTurn(server: Server, runs: number): Promise<Grading[]> {
  const gradings: Grading[] = []
  for (let i = 0; i < runs; i++) gradings.push(await grade(server, learnerKey(0)))
  return gradings
}

/** What went wrong in `gradings` (a refusal, or the tests that failed), '' when each was answered and correct. */
const faults = (gradings: Grading[]) =>
  gradings
    .filter((g) => !g.correct)
    .map((g) => g.refusal ?? g.failures.join('; '))
    .join(' | ')
    .slice(0, 800)

// ---- what the machine holds ----

/** Live processes running as one of this run's sandbox uids, split into the browser's and the rest (Python boxes). */
function sandboxProcesses(): { browser: number[]; other: number[] } {
  const all = processesOfUids(UID_FIRST, UID_END - UID_FIRST)
  const isBrowser = ({ name }: { name: string }) => /chrom|headless/i.test(name)
  return {
    browser: all.filter(isBrowser).map(({ pid }) => pid),
    other: all.filter((process) => !isBrowser(process)).map(({ pid }) => pid),
  }
}

/** Calls `sample` now and every `everyMs` until the returned function is called, which samples a last time. */
function every(everyMs: number, sample: () => void): () => void {
  const safely = () => {
    try {
      sample()
    } catch {
      // the process ended meanwhile: its last samples stand
    }
  }
  safely()
  const timer = setInterval(safely, everyMs)
  return () => {
    clearInterval(timer)
    safely()
  }
}

/** Stops `server` (SIGTERM, SIGKILL after STOP_WITHIN_MS) and waits, bounded, until its sandboxes are gone. */
async function stop(server: Server) {
  server.proc.kill('SIGTERM')
  await Promise.race([server.proc.exited, Bun.sleep(STOP_WITHIN_MS)])
  server.proc.kill('SIGKILL')
  await server.proc.exited
  for (const started = performance.now(); performance.now() - started < STOP_WITHIN_MS; await Bun.sleep(100)) {
    const { browser, other } = sandboxProcesses()
    if (browser.length + other.length === 0) return
  }
}

/** Ends what is still running as this run's sandbox uids (none, unless a server left some behind); answers how many. */
function endLeftovers(): number {
  const { browser, other } = sandboxProcesses()
  for (const pid of [...browser, ...other]) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone meanwhile
    }
  }
  return browser.length + other.length
}

// ---- the rows ----

type Row = { measure: string; value: number | string; unit?: string; detail?: string }

const ms = (value: number) => Math.round(value)
const median = (gradings: Grading[]) =>
  percentile(
    gradings.map((g) => g.ms),
    50,
  )
/** Each distinct one of `reasons` with how often it came, most frequent first. */
const tally = (reasons: string[]) =>
  Object.entries(Object.groupBy(reasons, (reason) => reason))
    .sort(([, a], [, b]) => b!.length - a!.length)
    .map(([reason, all]) => `${reason} ×${all!.length}`)
    .join(' | ')

// ---- 1. the class ----

async function classWave(keysFile: string): Promise<Row[]> {
  const server = await startServer(ROOT, serverEnv(keysFile))
  try {
    const [first] = await gradeInTurn(server, 1) // starts the browser, fills the pools
    const alone = await gradeInTurn(server, WARM_RUNS)

    const rssBefore = rssMb(server.proc.pid)
    const peak = { rss: rssBefore, browser: 0, sandboxes: 0 }
    const stopRss = every(100, () => (peak.rss = Math.max(peak.rss, rssMb(server.proc.pid))))
    const stopPss = every(250, () => {
      const { browser, other } = sandboxProcesses()
      peak.browser = Math.max(peak.browser, memoryMiB(browser).pss)
      peak.sandboxes = Math.max(peak.sandboxes, memoryMiB([...browser, ...other]).pss)
    })
    const started = performance.now()
    const wave = Promise.all(Array.from({ length: LEARNERS }, (_, i) => grade(server, learnerKey(i))))
    const probe = probeHealthApart(server, 100)
    const gradings = await wave.finally(() => {
      stopRss()
      stopPss()
    })
    const health = await probe.stop()
    const waveMs = performance.now() - started

    const answered = gradings.filter((g) => g.status === 200)
    const walls = gradings.map((g) => g.ms)
    return [
      {
        measure: 'one learner alone: first grading (warm-up; starts the browser)',
        value: ms(first!.ms),
        unit: 'ms',
        detail: faults([first!]),
      },
      {
        measure: `one learner alone, warm: median of ${WARM_RUNS}`,
        value: ms(median(alone)),
        unit: 'ms',
        detail: [
          `min ${ms(Math.min(...alone.map((g) => g.ms)))}, max ${ms(Math.max(...alone.map((g) => g.ms)))}`,
          faults(alone),
        ]
          .filter(Boolean)
          .join('; '),
      },
      {
        measure: `class of ${LEARNERS}: gradings answered 200`,
        value: `${answered.length}/${LEARNERS}`,
        detail: tally(gradings.flatMap((g) => (g.refusal ? [g.refusal] : []))) || 'none refused',
      },
      {
        measure: 'class: graded correct (every endpoint and browser test passed)',
        value: `${gradings.filter((g) => g.correct).length}/${LEARNERS}`,
        detail: tally(gradings.flatMap((g) => g.failures.map((failure) => failure.slice(0, 200)))).slice(0, 1000),
      },
      { measure: 'class: wall per grading p50', value: ms(percentile(walls, 50)), unit: 'ms' },
      { measure: 'class: wall per grading p95', value: ms(percentile(walls, 95)), unit: 'ms' },
      { measure: 'class: wall per grading max', value: ms(Math.max(...walls)), unit: 'ms' },
      { measure: 'class: the whole wave', value: ms(waveMs), unit: 'ms' },
      {
        measure: 'class: GET /health p50 during the wave',
        value: ms(percentile(health, 50)),
        unit: 'ms',
        detail: `${health.length} probes`,
      },
      { measure: 'class: GET /health p99', value: ms(percentile(health, 99)), unit: 'ms' },
      { measure: 'class: GET /health max', value: ms(Math.max(...health)), unit: 'ms' },
      { measure: 'class: server peak RSS', value: peak.rss, unit: 'MB', detail: `${rssBefore} MB before the wave` },
      {
        measure: 'class: browser peak PSS',
        value: Math.round(peak.browser),
        unit: 'MB',
        detail: `every sandbox uid (browser + Python boxes): ${Math.round(peak.sandboxes)} MB`,
      },
    ]
  } finally {
    await stop(server)
  }
}

// ---- 2. cold ----

/** The detailed /health's browser check. */
async function browserHealth(server: Server): Promise<{ running?: boolean; ok?: boolean; error?: string }> {
  const response = await fetch(`${server.base}/health`, {
    headers: { authorization: `Bearer ${MONITOR_KEY}` },
    signal: AbortSignal.timeout(5_000),
  })
  return ((await response.json()) as any).checks?.browser ?? {}
}

/** Polls /health until the browser is running; throws if it fails to start or takes over BROWSER_UP_WITHIN_MS. */
async function browserUp(server: Server) {
  for (const started = performance.now(); ; await Bun.sleep(50)) {
    const browser = await browserHealth(server)
    if (browser.running) return
    if (browser.ok === false) throw new Error(`the prewarmed browser did not start: ${browser.error}`)
    if (performance.now() - started > BROWSER_UP_WITHIN_MS) throw new Error('the prewarmed browser did not start')
  }
}

async function coldServer(keysFile: string, prewarm: boolean): Promise<Row[]> {
  const setting = `BROWSER_PREWARM=${prewarm}`
  const spawned = performance.now()
  const server = await startServer(ROOT, serverEnv(keysFile, { BROWSER_PREWARM: String(prewarm) }))
  try {
    const rows: Row[] = [
      { measure: `cold, ${setting}: start → first /health answer`, value: ms(performance.now() - spawned), unit: 'ms' },
    ]
    if (prewarm) {
      await browserUp(server)
      rows.push({
        measure: `cold, ${setting}: start → /health says browser running`,
        value: ms(performance.now() - spawned),
        unit: 'ms',
      })
    }
    const [cold] = await gradeInTurn(server, 1)
    const warm = await gradeInTurn(server, WARM_RUNS)
    return [
      ...rows,
      {
        measure: `cold, ${setting}: first grading (cold_ms)`,
        value: ms(cold!.ms),
        unit: 'ms',
        detail: faults([cold!]),
      },
      {
        measure: `cold, ${setting}: median of the next ${WARM_RUNS} (warm_ms)`,
        value: ms(median(warm)),
        unit: 'ms',
        detail: faults(warm),
      },
      { measure: `cold, ${setting}: cold_ms − warm_ms`, value: ms(cold!.ms - median(warm)), unit: 'ms' },
    ]
  } finally {
    await stop(server)
  }
}

export async function run(): Promise<Record<string, unknown>[]> {
  if (!Number.isInteger(LEARNERS) || LEARNERS < 1 || LEARNERS > 200)
    throw new Error('BENCH_CLASS_LEARNERS must be a whole number from 1 to 200')
  const machine: Row = {
    measure: 'machine before the run (nproc)',
    value: availableParallelism(),
    unit: 'CPUs',
    detail: `load average ${loadAverage()}`,
  }
  const dir = mkdtempSync(join(tmpdir(), 'class-bench-'))
  try {
    const keysFile = writeKeysFile(dir)
    const rows = [machine, ...(await classWave(keysFile))]
    rows.push(...(await coldServer(keysFile, false)), ...(await coldServer(keysFile, true)))
    // Each server's sandboxes end with it (stop() waits for them): anything still running is a leak.
    const { browser, other } = sandboxProcesses()
    rows.push({
      measure: 'processes left as sandbox uids once every server stopped',
      value: browser.length + other.length,
    })
    return rows
  } finally {
    rmSync(dir, { recursive: true, force: true })
    const left = endLeftovers()
    if (left) console.error(`class bench: ended ${left} processes left behind as sandbox uids of the servers`)
  }
}

if (import.meta.main) {
  console.table(await run())
  process.exit(0)
}
