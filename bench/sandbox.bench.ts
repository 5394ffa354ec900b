/**
 * What one sandbox costs to start (src/sandbox): spawn → exit of `python3 -I -S -c pass` inside it, with every
 * layer a real run gets (cgroup join, own uid and process limit, bwrap, seccomp filter), next to the same
 * program started bare. The pool hides this from a request; it bounds how fast the pool refills.
 * Run: `bun bench/sandbox.bench.ts` (BENCH_RUNS sets the sample count, default 40).
 */
import { loadConfig } from '../src/config'
import { createLogger } from '../src/logging'
import { createSandbox } from '../src/sandbox'
import { percentile } from './measure'

const RUNS = Number(process.env.BENCH_RUNS ?? 40)

async function time(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await action()
  return performance.now() - started
}

export async function run() {
  const sandbox = createSandbox({ config: loadConfig({ LOG_LEVEL: 'silent' }), logger: createLogger('silent') })
  const state = await sandbox.ready()
  const program = ['/usr/bin/python3', '-I', '-S', '-c', 'pass']
  const bare: number[] = []
  const boxed: number[] = []
  try {
    for (let i = 0; i < RUNS; i++) {
      bare.push(await time(() => Bun.spawn(program, { env: {}, stdio: ['ignore', 'ignore', 'ignore'] }).exited))
      boxed.push(
        await time(async () => {
          const box = sandbox.spawn(program, { memoryBytes: 256 << 20 })
          box.proc.stdin.end()
          await box.proc.exited
          box.release()
        }),
      )
    }
  } finally {
    await sandbox.close()
  }
  return [
    {
      name: 'bare python3 -I -S -c pass',
      runs: RUNS,
      p50_ms: Math.round(percentile(bare, 50) * 10) / 10,
      p99_ms: Math.round(percentile(bare, 99) * 10) / 10,
    },
    {
      name: `in the sandbox (${state.sandboxed ? 'bwrap' : 'no bwrap'}, cgroup ${state.cgroups.kind})`,
      runs: RUNS,
      p50_ms: Math.round(percentile(boxed, 50) * 10) / 10,
      p99_ms: Math.round(percentile(boxed, 99) * 10) / 10,
    },
  ]
}

if (import.meta.main) {
  console.table(await run())
  process.exit(0)
}
