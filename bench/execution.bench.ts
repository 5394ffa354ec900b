/**
 * Execution throughput, before and after the warm zygote (docs/performance.md, "Performance"): "before" starts every job through
 * bubblewrap and a new interpreter (EXEC_ZYGOTE=false), "after" forks it from the warm zygote (EXEC_ZYGOTE=true).
 * The two run in alternation in one process (before, after, before, after, ...) so that both meet the same load;
 * each row is the median over the rounds. Per round and path:
 * - the bare start of `python3 -I -S -c pass`, the reference a sandboxed call is compared with;
 * - execute-endpoint on a one-line `@endpoint` function, calls back to back (the next sent as soon as the last
 *   answered, as the IDE's client does): p50 and p90;
 * - the wall time of 20 concurrent calls (median of 3, each after a 300 ms pause in which the pool refills);
 * - the calls 8 clients complete in BENCH_LOOP_S seconds, each calling in a loop, and the machine's busy CPU time
 *   (/proc/stat) per call meanwhile: it holds the kernel's work no process is charged for, and anything else
 *   running on the machine (see the load average printed with the table);
 * - the Tic Tac Toe backend tests (every case in tasks/tic-tac-toe/tests/backend) against its solution.py, sent
 *   as one execute-test-cases request;
 * - idle memory: a server of its own (src/index.ts as its own process, so no garbage of the runs above counts)
 *   after one call, once its pool of waiting sandboxes stands still: PSS of the server and every process below
 *   it, and the plain RSS and USS sums around it (./measure.ts, memoryMiB, says what each counts).
 * The in-process app runs with per-client limits off (one process plays every learner). After each phase the
 * bench counts the sandbox processes and cgroups left behind (in-process and by the idle server); there should be
 * none.
 * Run: `bun bench/execution.bench.ts`; BENCH_ROUNDS (default 3), BENCH_RUNS (sequential calls per round, default
 * 40), BENCH_LOOP_S (default 10). Where a call's CPU goes: bench/breakdown.bench.ts.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { closeServices, createApp } from '../src/app'
import { loadConfig } from '../src/config'
import { cgroupsOf, descendants, loadAverage, machineBusyMs, memoryMiB, percentile, postJson, running } from './measure'
import { startServer } from './server'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const RUNS = Number(process.env.BENCH_RUNS ?? 40)
const LOOP_S = Number(process.env.BENCH_LOOP_S ?? 10)
const ROOT = resolve(import.meta.dir, '..')
const TASK = resolve(ROOT, 'tasks/tic-tac-toe')

const ADD = {
  pythonCode: '@endpoint\ndef add(a: int, b: int):\n    return a + b',
  endpoint: '/add',
  args: { a: 1, b: 2 },
}
const SOLUTION = readFileSync(resolve(TASK, 'solution.py'), 'utf8')
/** The task's backend tests as the IDE sends them: each file's `tests`, in file order. */
const SUITE: { public?: boolean }[] = readdirSync(resolve(TASK, 'tests/backend'))
  .filter((file) => file.endsWith('.json'))
  .sort()
  .flatMap((file) => JSON.parse(readFileSync(resolve(TASK, 'tests/backend', file), 'utf8')).tests)
const PUBLIC = SUITE.filter((test) => test.public).length

const median = (xs: number[]) => percentile(xs, 50)

async function time(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await action()
  return performance.now() - started
}

/** Waits (bounded: 5 s) until `list()` is empty; how many it still held then. */
async function leftOver(list: () => unknown[], withinMs = 5000): Promise<number> {
  const until = performance.now() + withinMs
  while (list().length && performance.now() < until) await Bun.sleep(50)
  return list().length
}

type Figures = Record<
  | 'bare'
  | 'p50'
  | 'p90'
  | 'concurrent'
  | 'loop'
  | 'loopCpu'
  | 'suite'
  | 'pss'
  | 'rss'
  | 'uss'
  | 'procs'
  | 'left'
  | 'groups',
  number
>

/** Memory of a server of its own with one path, idle after one call; and whether its sandboxes went with it. */
async function idleServer(zygote: boolean) {
  const server = await startServer(ROOT, { EXEC_ZYGOTE: String(zygote) })
  try {
    const answer = await fetch(`${server.base}/api/execute-endpoint`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADD),
    }).then((response) => response.json())
    if (answer.result !== 3) throw new Error(`idle server: unexpected answer ${JSON.stringify(answer)}`)
    // The pool is full once the same processes stand below the server for 5 samples in a row (bounded: 10 s).
    let last = ''
    for (let same = 0, tries = 0; same < 5 && tries < 100; tries++) {
      await Bun.sleep(100)
      const now = descendants(server.proc.pid).sort().join(',')
      same = now === last ? same + 1 : 0
      last = now
    }
    const boxes = descendants(server.proc.pid)
    const memory = memoryMiB([server.proc.pid, ...boxes])
    server.proc.kill('SIGTERM')
    await Promise.race([server.proc.exited, Bun.sleep(10_000)])
    const left = await leftOver(() => boxes.filter(running))
    return { ...memory, procs: boxes.length, left, groups: await leftOver(() => cgroupsOf(server.proc.pid)) }
  } finally {
    server.proc.kill('SIGKILL')
  }
}

async function measurePath(zygote: boolean): Promise<Figures> {
  const bare: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const argv = ['/usr/bin/python3', '-I', '-S', '-c', 'pass']
    bare.push(await time(() => Bun.spawn(argv, { env: {}, stdio: ['ignore', 'ignore', 'ignore'] }).exited))
  }
  const app = createApp({
    config: loadConfig({
      LOG_LEVEL: 'silent',
      EXEC_ZYGOTE: String(zygote),
      // One process plays every learner: no per-client limits, so 20 calls at once are 20 learners' calls.
      RATE_EXECUTION_PER_MIN: '0',
      CONCURRENT_EXECUTIONS_PER_CLIENT: '0',
      EXEC_QUEUE_PER_CLIENT: '64',
      EXEC_SLOTS_PER_CLIENT: '64',
    }),
  })
  const services = app.decorator.services
  let closed = false
  try {
    const call = () => postJson(app, '/api/execute-endpoint', ADD)
    const first = await call() // waits for the probes and fills the pool
    if (first.result !== 3) throw new Error(`unexpected answer ${JSON.stringify(first)}`)
    const start = ((await services.runner.health()) as any).execution.start
    if (start !== (zygote ? 'zygote' : 'bubblewrap')) throw new Error(`EXEC_ZYGOTE=${zygote} started jobs by ${start}`)

    const calls: number[] = []
    for (let i = 0; i < RUNS; i++) calls.push(await time(call))

    const suite: number[] = []
    for (let i = 0; i < Math.max(5, RUNS / 8); i++) {
      suite.push(
        await time(async () => {
          const report = await postJson(app, '/api/execute-test-cases', { testCases: SUITE, backendCode: SOLUTION })
          if (report.summary?.passed !== SUITE.length) throw new Error(`suite: ${JSON.stringify(report.summary)}`)
        }),
      )
    }

    const concurrent: number[] = []
    for (let i = 0; i < 3; i++) {
      await Bun.sleep(300)
      concurrent.push(
        await time(async () => {
          const answers = await Promise.all(Array.from({ length: 20 }, call))
          const failed = answers.find((a) => a.result !== 3)
          if (failed) throw new Error(`a concurrent call failed: ${JSON.stringify(failed)}`)
        }),
      )
    }

    await Bun.sleep(300)
    const until = performance.now() + LOOP_S * 1000
    let loop = 0
    const busy = machineBusyMs()
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (performance.now() < until) if ((await call()).result === 3) loop++
      }),
    )
    const loopCpu = (machineBusyMs() - busy) / loop
    await closeServices(services)
    closed = true
    const leftInProcess = await leftOver(() => descendants(process.pid))
    const groupsInProcess = await leftOver(() => cgroupsOf(process.pid))
    const idle = await idleServer(zygote)
    return {
      bare: median(bare),
      p50: median(calls),
      p90: percentile(calls, 90),
      concurrent: median(concurrent),
      loop,
      loopCpu,
      suite: median(suite),
      pss: idle.pss,
      rss: idle.rss,
      uss: idle.uss,
      procs: idle.procs,
      left: leftInProcess + idle.left,
      groups: groupsInProcess + idle.groups,
    }
  } finally {
    if (!closed) await closeServices(services)
  }
}

const mostLeft = (figures: Figures[]) =>
  `${Math.max(...figures.map((f) => f.left))} / ${Math.max(...figures.map((f) => f.groups))}`

export async function run() {
  const loadBefore = loadAverage()
  const rounds: Record<'before' | 'after', Figures[]> = { before: [], after: [] }
  for (let round = 0; round < ROUNDS; round++) {
    rounds.before.push(await measurePath(false))
    rounds.after.push(await measurePath(true))
  }
  console.log(
    `${ROUNDS} rounds (before = EXEC_ZYGOTE=false, after = EXEC_ZYGOTE=true, alternating), ${RUNS} sequential ` +
      `calls per round, loop ${LOOP_S} s; load average ${loadBefore} at start, ${loadAverage()} at end`,
  )
  const ms = (x: number) => `${x.toFixed(1)} ms`
  const mib = (x: number) => `${x.toFixed(1)} MiB`
  const row = (name: string, goal: string, show: (f: (key: keyof Figures) => number) => string) => {
    const of = (path: 'before' | 'after') => show((key) => median(rounds[path].map((f) => f[key])))
    return { row: name, before: of('before'), after: of('after'), goal }
  }
  return [
    row('bare python3 -I -S -c pass (reference)', '', (f) => ms(f('bare'))),
    row(
      'execute-endpoint, sequential back to back, p50 / p90',
      '≤ 5 / 8 ms',
      (f) => `${f('p50').toFixed(1)} / ${ms(f('p90'))}`,
    ),
    row('20 concurrent execute-endpoint, wall', '≤ 100 ms', (f) => ms(f('concurrent'))),
    row(`calls completed in ${LOOP_S} s by 8 clients`, '≥ 2,000', (f) => String(f('loop'))),
    row('  machine CPU per call in that loop (/proc/stat)', '', (f) => ms(f('loopCpu'))),
    row(`Tic Tac Toe backend suite, ${SUITE.length} cases (${PUBLIC} public), one request`, '≤ 40 ms', (f) =>
      ms(f('suite')),
    ),
    row('idle memory, server + waiting sandboxes (PSS)', '≤ 60 MiB', (f) => `${mib(f('pss'))} (${f('procs')} procs)`),
    row('idle memory, plain RSS sum (upper bound)', '', (f) => mib(f('rss'))),
    row('idle memory, USS sum (private pages only: lower bound)', '', (f) => mib(f('uss'))),
    {
      row: 'left after close: sandbox processes / cgroups (most in a round)',
      before: mostLeft(rounds.before),
      after: mostLeft(rounds.after),
      goal: '0 / 0',
    },
  ]
}

if (import.meta.main) {
  console.table(await run())
  process.exit(0)
}
