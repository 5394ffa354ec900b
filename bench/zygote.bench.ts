/**
 * Where a job forked from the zygote (src/sandbox/zygote.py) spends its CPU: each set-up step's CPU time and page
 * faults as the job itself measures them (the zygote's trace setting), then the harness running a one-line call
 * and the process's exit (the rest of the job's rusage), next to the server's own CPU per job and the wall time of
 * one job started, run and reaped. Jobs run one after another without a pool, so every job pays its whole set-up.
 * A page fault on a forked process is the unit of cost here: most of a step's CPU is the faults its first touch of
 * the zygote's pages takes.
 * Run: `bun bench/zygote.bench.ts` (BENCH_RUNS sets the job count, default 40).
 */
import { boxLimits, harnessPayload } from '../src/execution/harness-boxes'
import { harnessLimits } from '../src/execution/local-runner'
import { loadConfig } from '../src/config'
import { createLogger } from '../src/logging'
import { compileHarness } from '../src/python/compiled'
import { harnessProgram, schedulerProgram } from '../src/python/program'
import { createSandbox } from '../src/sandbox'
import type { ZygoteExit } from '../src/sandbox/zygote'
import { percentile } from './measure'

const RUNS = Number(process.env.BENCH_RUNS ?? 40)
const JOB = JSON.stringify({
  op: 'call',
  code: '@endpoint\ndef add(a: int, b: int):\n    return a + b',
  endpoint: '/add',
  args: { a: 1, b: 2 },
})

const round = (ms: number) => Math.round(ms * 100) / 100

export async function run() {
  const config = loadConfig({ LOG_LEVEL: 'warn' })
  const sandbox = createSandbox({ config, logger: createLogger('warn') })
  await sandbox.ready()
  const made = await compileHarness(config.PYTHON_BIN, { learner: harnessProgram, scheduler: schedulerProgram })
  if ('error' in made) throw new Error(made.error)
  const warm = sandbox.warm({ ...harnessPayload(made, JSON.stringify(harnessLimits(config))), trace: true })
  if (!warm) {
    made.remove()
    await sandbox.close()
    return [{ step: 'skipped: jobs start through bubblewrap here (not root, or no sandbox)' }]
  }
  const steps = new Map<string, { cpu: number[]; faults: number[] }>()
  const add = (step: string, cpu: number, faults: number) => {
    const entry = steps.get(step) ?? { cpu: [], faults: [] }
    entry.cpu.push(cpu)
    entry.faults.push(faults)
    steps.set(step, entry)
  }
  const walls: number[] = []
  const server: number[] = []
  try {
    for (let i = 0; i < RUNS + 3; i++) {
      const started = performance.now()
      const cpuBefore = process.cpuUsage()
      const box = await warm.spawn(boxLimits(config))
      void box.write(JOB)
      const [, , answer] = await Promise.all([
        new Response(box.stdout).text(),
        new Response(box.stderr).text(),
        new Response(Bun.file(box.channel).stream()).text(),
      ])
      const exit = (await box.exited) as ZygoteExit
      const cpu = process.cpuUsage(cpuBefore)
      box.release()
      if (!answer.includes('"value": 3')) throw new Error(`unexpected answer: ${answer}`)
      if (i < 3) continue // warm-up
      walls.push(performance.now() - started)
      server.push((cpu.user + cpu.system) / 1000)
      let [lastCpu, lastFaults] = [0, 0]
      for (const [step, seconds, faults] of exit.stages ?? []) {
        add(step, seconds * 1000 - lastCpu, faults - lastFaults)
        ;[lastCpu, lastFaults] = [seconds * 1000, faults]
      }
      add('harness: the call, then exit', (exit.cpuMs ?? 0) - lastCpu, Number.NaN)
      add('job in all (its rusage)', exit.cpuMs ?? 0, Number.NaN)
    }
  } finally {
    warm.close()
    made.remove()
    await sandbox.close()
  }
  return [
    ...[...steps].map(([step, { cpu, faults }]) => ({
      step,
      cpu_ms_p50: round(percentile(cpu, 50)),
      page_faults_p50: Number.isNaN(faults[0]) ? '' : percentile(faults, 50),
    })),
    { step: 'server CPU per job (spawn, pipes, cgroup, release)', cpu_ms_p50: round(percentile(server, 50)) },
    { step: 'wall: fork request to reaped, one job at a time', cpu_ms_p50: round(percentile(walls, 50)) },
  ]
}

if (import.meta.main) {
  console.table(await run())
  process.exit(0)
}
