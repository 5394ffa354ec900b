/**
 * Execution latency (README, "Performance"): p50/p99 of execute-endpoint on a one-line function
 * (through app.handle, warm pool) and the time of a 50-case execute-test-cases batch, each next to the
 * start-up of a bare `python3 -I -S -c pass` measured in the same run. Goals: a call within 2x of the bare
 * start-up, the batch within 3x.
 * Throughput: the wall time of 20 concurrent calls, and how many calls 8 clients, each calling in a loop, complete
 * in 10 s (BENCH_LOOP_S). Where a call's CPU goes: bench/breakdown.bench.ts.
 * Run: `bun bench/execution.bench.ts` (BENCH_RUNS sets the sample count, default 40).
 */
import { createApp } from '../src/app'
import { loadConfig } from '../src/config'
import { percentile, postJson } from './measure'

const RUNS = Number(process.env.BENCH_RUNS ?? 40)

const row = (name: string, samples: number[], baseline?: number) => {
  const p50 = percentile(samples, 50)
  return {
    name,
    runs: samples.length,
    p50_ms: Math.round(p50 * 10) / 10,
    p99_ms: Math.round(percentile(samples, 99) * 10) / 10,
    ...(baseline ? { x_bare_python: Math.round((p50 / baseline) * 100) / 100 } : {}),
  }
}

async function time(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await action()
  return performance.now() - started
}

export async function run() {
  const bare: number[] = []
  for (let i = 0; i < RUNS; i++) {
    bare.push(
      await time(
        () =>
          Bun.spawn(['/usr/bin/python3', '-I', '-S', '-c', 'pass'], { env: {}, stdio: ['ignore', 'ignore', 'ignore'] })
            .exited,
      ),
    )
  }
  const baseline = percentile(bare, 50)

  const app = createApp({
    config: loadConfig({
      LOG_LEVEL: 'silent',
      // One process plays every learner: no per-client limits, so 20 calls at once are 20 learners' calls.
      RATE_EXECUTION_PER_MIN: '0',
      CONCURRENT_EXECUTIONS_PER_CLIENT: '0',
      EXEC_QUEUE_PER_CLIENT: '64',
      EXEC_SLOTS_PER_CLIENT: '64',
    }),
  })
  const runner = app.decorator.services.runner
  try {
    const pythonCode = '@endpoint\ndef add(a: int, b: int):\n    return a + b'
    const call = () => postJson(app, '/api/execute-endpoint', { pythonCode, endpoint: '/add', args: { a: 1, b: 2 } })
    const first = await call() // waits for the probes and fills the pool
    if (first.result !== 3) throw new Error(`unexpected answer ${JSON.stringify(first)}`)
    const calls: number[] = []
    for (let i = 0; i < RUNS; i++) {
      await runner.health() // let the pool refill between sequential calls, as between requests of a learner
      await Bun.sleep(30)
      calls.push(await time(call))
    }

    const testCases = Array.from({ length: 50 }, (_, i) => ({
      name: `case ${i}`,
      endpoint: '/add',
      input: { a: i, b: 1 },
      expected: i + 1,
    }))
    const batches: number[] = []
    for (let i = 0; i < Math.max(5, RUNS / 8); i++) {
      await Bun.sleep(30)
      batches.push(
        await time(async () => {
          const report = await postJson(app, '/api/execute-test-cases', { testCases, backendCode: pythonCode })
          if (report.summary.passed !== 50) throw new Error(`batch failed: ${JSON.stringify(report.summary)}`)
        }),
      )
    }
    const concurrent: number[] = []
    for (let i = 0; i < 3; i++) {
      await Bun.sleep(300) // the pool refilled
      concurrent.push(
        await time(async () => {
          const answers = await Promise.all(Array.from({ length: 20 }, call))
          const failed = answers.find((a) => a.result !== 3)
          if (failed) throw new Error(`a concurrent call failed: ${JSON.stringify(failed)}`)
        }),
      )
    }
    await Bun.sleep(300)
    const loopMs = Number(process.env.BENCH_LOOP_S ?? 10) * 1000
    const until = performance.now() + loopMs
    let completed = 0
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (performance.now() < until) {
          if ((await call()).result === 3) completed++
        }
      }),
    )
    return [
      row('bare python3 -I -S -c pass', bare),
      { ...row('20 concurrent execute-endpoint, wall of all', concurrent), runs: concurrent.length },
      { name: `calls completed in ${loopMs / 1000} s by 8 clients in a loop`, runs: 1, calls: completed },
      row('execute-endpoint, one-line function (warm pool)', calls, baseline),
      row('execute-test-cases, 50 cases', batches, baseline),
    ]
  } finally {
    runner.close()
  }
}

if (import.meta.main) console.table(await run())
