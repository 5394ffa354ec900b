/**
 * Start-up to first /health answer, for `bun src/index.ts` and for the compiled binary, next to a bare
 * `bun -e ""` start measured in the same run. Goal (docs/performance.md, "Performance"): under 300 ms.
 * Run: `bun bench/startup.bench.ts` (builds the binary into a temp folder first).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const ROOT = resolve(import.meta.dir, '..')
const RUNS = Number(process.env.BENCH_RUNS ?? 10)

function freePort(): number {
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() })
  const port = server.port!
  server.stop(true)
  return port
}

async function timeToHealth(cmd: string[]): Promise<number> {
  const port = freePort()
  const start = performance.now()
  const proc = Bun.spawn(cmd, {
    cwd: tmpdir(),
    env: {
      PATH: process.env.PATH!,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'silent',
      TASKS_DIR: join(ROOT, 'tasks'),
      DATA_DIR: mkdtempSync(join(tmpdir(), 'tutor-bench-data-')), // a fresh SQLite file, as on a first start
    },
    stdout: 'ignore',
    stderr: 'inherit',
  })
  try {
    for (;;) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/health`)
        if (response.status === 200) {
          await response.arrayBuffer()
          return performance.now() - start
        }
      } catch {
        // not listening yet: poll again at once
      }
      if (performance.now() - start > 10_000) throw new Error(`${cmd.join(' ')} did not answer within 10 s`)
    }
  } finally {
    proc.kill('SIGTERM')
    await proc.exited
  }
}

async function timeBare(cmd: string[]): Promise<number> {
  const start = performance.now()
  await Bun.spawn(cmd, { stdout: 'ignore' }).exited
  return performance.now() - start
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

async function measure(name: string, once: () => Promise<number>) {
  const samples: number[] = []
  for (let i = 0; i < RUNS; i++) samples.push(await once())
  return { name, p50_ms: +quantile(samples, 0.5).toFixed(1), p90_ms: +quantile(samples, 0.9).toFixed(1), runs: RUNS }
}

export async function run() {
  const outDir = mkdtempSync(join(tmpdir(), 'tutor-bench-'))
  const binary = join(outDir, 'ai-tutor-backend')
  try {
    const build = Bun.spawnSync(
      [process.execPath, 'build', '--compile', '--minify', 'src/index.ts', '--outfile', binary],
      { cwd: ROOT },
    )
    if (build.exitCode !== 0) throw new Error(build.stderr.toString())
    return [
      await measure('bare `bun -e ""` (reference)', () => timeBare([process.execPath, '-e', ''])),
      await measure('start → first /health: bun src/index.ts', () =>
        timeToHealth([process.execPath, join(ROOT, 'src/index.ts')]),
      ),
      await measure('start → first /health: compiled binary', () => timeToHealth([binary])),
    ]
  } finally {
    rmSync(outDir, { recursive: true, force: true })
  }
}

if (import.meta.main) console.table(await run())
