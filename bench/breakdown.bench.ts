/**
 * Where the CPU of one execution goes (docs/performance.md, "Performance"): each layer a sandboxed call adds, started on its own
 * and timed to its exit. CPU is the child's rusage (user + system), which counts the descendants it reaped. For a
 * sandbox that is the layers only (cgroup join shell, setpriv, the outer bwrap): the outer bwrap exits when its
 * pid 1 reports the program's status and never reaps it, so the program inside is not counted (nor the kernel's
 * namespace teardown, done by kernel threads). A sandboxed call's CPU is therefore estimated as the layers plus
 * the same program started bare (the last rows). server_cpu_ms is this server's own CPU per start (cgroup
 * create/remove, spawn, pipes), from process.cpuUsage().
 * The zygote path (src/sandbox/zygote.ts) has rows of its own (./zygote-cpu.ts): a job's CPU as the zygote reports
 * it, the zygote's own CPU per job, and the server's CPU per execute-endpoint call on either path; the last rows
 * add them up per path.
 * Run: `bun bench/breakdown.bench.ts` (BENCH_RUNS sets the sample count, default 30).
 */
import { boxLimits, harnessPayload } from '../src/execution/harness-boxes'
import { closeSync } from 'node:fs'
import { loadConfig } from '../src/config'
import { createLogger } from '../src/logging'
import { createSandbox, sandboxMemoryBytes } from '../src/sandbox'
import { dropRootPrefix, sandboxArgv } from '../src/sandbox/argv'
import { compileHarness } from '../src/python/compiled'
import { harnessProgram, schedulerProgram } from '../src/python/program'
import { harnessLimits } from '../src/execution/local-runner'
import { serverCpuPerCall, warmJobCpu } from './zygote-cpu'

const RUNS = Number(process.env.BENCH_RUNS ?? 30)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const round = (x: number) => Math.round(x * 10) / 10
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
const ZYGOTE_JOB = 'zygote job, one call (cpu: as the zygote reports it; server: ours for the job)'
const ZYGOTE_ITSELF = 'zygote itself, per job (fork, pipes, reaping)'
const serverRow = (zygote: boolean) =>
  `server per execute-endpoint call, ${zygote ? 'zygote' : 'bubblewrap'} path (app.handle, ${RUNS} in a row)`

type Sample = { cpu: number; wall: number; ours: number }

/** Starts `start()` RUNS times; the median CPU (ms) of the child, wall (ms) to its exit, and our own CPU. */
async function measure(start: () => { proc: Bun.Subprocess; done?: () => void }): Promise<Sample> {
  const cpu: number[] = []
  const wall: number[] = []
  const ours: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const before = process.cpuUsage()
    const started = performance.now()
    const { proc, done } = start()
    await proc.exited
    wall.push(performance.now() - started)
    done?.()
    const own = process.cpuUsage(before)
    ours.push((own.user + own.system) / 1000)
    const usage = proc.resourceUsage()
    cpu.push(usage ? Number(usage.cpuTime.user + usage.cpuTime.system) / 1000 : NaN)
  }
  return { cpu: median(cpu), wall: median(wall), ours: median(ours) }
}

export async function run() {
  const config = loadConfig({ LOG_LEVEL: 'silent' })
  const python = config.PYTHON_BIN
  const sandbox = createSandbox({ config, logger: createLogger('silent') })
  const state = await sandbox.ready()
  const compiled = await compileHarness(python, { learner: harnessProgram, scheduler: schedulerProgram })
  if ('error' in compiled) throw new Error(`cannot precompile: ${compiled.error}`)
  const limits = JSON.stringify(harnessLimits(config))
  const job = JSON.stringify({
    op: 'call',
    code: '@endpoint\ndef add(a: int, b: int):\n    return a + b',
    endpoint: '/add',
    args: { a: 1, b: 2 },
  })
  const pass = [python, '-I', '-S', '-c', 'pass']
  const fromSource = [python, '-I', '-S', '-c', harnessProgram, limits, schedulerProgram]
  const fromBytecode = [python, '-I', '-S', compiled.learner, limits, compiled.scheduler]
  /** A bare process; `input` on stdin (a pooled harness given nothing exits at once), fd 3 for its report. */
  const bare =
    (argv: string[], input = '') =>
    () => {
      const proc = Bun.spawn(argv, { env: {}, stdio: [new TextEncoder().encode(input), 'ignore', 'ignore', 'pipe'] })
      return { proc, done: () => closeSync(proc.stdio[3] as unknown as number) }
    }
  const boxed =
    (argv: string[], input = '') =>
    () => {
      const box = sandbox.spawn(argv, {
        memoryBytes: sandboxMemoryBytes(config),
        fds: 1,
        readOnly: [compiled.dir],
      })
      void box.proc.stdin.write(input)
      void box.proc.stdin.end()
      return {
        proc: box.proc as Bun.Subprocess,
        done: () => {
          box.release()
          closeSync(box.proc.stdio[3] as unknown as number)
        },
      }
    }
  const tmpfsBytes = config.EXEC_TMPFS_MB << 20
  const rows: [string, Sample][] = []
  const add = async (name: string, start: () => { proc: Bun.Subprocess; done?: () => void }) =>
    rows.push([name, await measure(start)])
  try {
    await add('python -I -S -c pass', bare(pass))
    await add('harness from -c source, no job (compile + imports)', bare(fromSource))
    await add('harness from .pyc, no job (imports)', bare(fromBytecode))
    await add('harness from -c source, one call', bare(fromSource, job))
    await add('harness from .pyc, one call', bare(fromBytecode, job))
    if (state.sandboxed) {
      await add(
        'bwrap (layers only) + python pass',
        bare(sandboxArgv(pass, { tmpfsBytes, disableUserns: state.probe.disables_userns ?? true })),
      )
      const drop = dropRootPrefix(config.SANDBOX_UID_BASE, null)
      if (drop.length) {
        const argv = [...drop, ...sandboxArgv(pass, { tmpfsBytes, disableUserns: state.probe.disables_userns ?? true })]
        await add('setpriv + bwrap (layers only) + python pass', bare(argv))
      }
      await add('full sandbox (layers only) + python pass', boxed(pass))
      await add('full sandbox (layers only) + harness from -c, one call', boxed(fromSource, job))
      await add('full sandbox (layers only) + harness from .pyc, one call', boxed(fromBytecode, job))
      const boxes = sandbox.warm(harnessPayload(compiled, limits)) // as the local runner starts our harness
      if (boxes) {
        const warmLimits = boxLimits(config)
        // Given nothing, the harness exits at once: what a box costs before any job (set-up in the box, exit).
        rows.push(['zygote job, no job given (box set-up + exit)', await warmJobCpu(boxes, warmLimits, '', RUNS)])
        const warm = await warmJobCpu(boxes, warmLimits, job, RUNS)
        rows.push([ZYGOTE_JOB, warm])
        const pooled = await warmJobCpu(boxes, warmLimits, job, RUNS, 100)
        rows.push(['zygote job, one call on a box that waited 100 ms (wall: from the job to its exit)', pooled])
        rows.push([ZYGOTE_ITSELF, { cpu: warm.zygote, wall: NaN, ours: NaN }])
      }
    }
  } finally {
    await sandbox.close()
    compiled.remove()
  }
  if (state.sandboxed) {
    // After the sandbox above is closed: each app has a sandbox of its own, handing out the same uids.
    for (const zygote of [false, true]) {
      const { cpu, wall } = await serverCpuPerCall(zygote, RUNS)
      rows.push([serverRow(zygote), { cpu: NaN, wall, ours: cpu }])
    }
  }
  const table = rows.map(([stage, s]) => ({
    stage,
    cpu_ms: round(s.cpu),
    wall_ms: round(s.wall),
    server_cpu_ms: round(s.ours),
  }))
  const sample = Object.fromEntries(rows)
  const cpu = Object.fromEntries(rows.map(([stage, s]) => [stage, s.cpu + s.ours]))
  const estimate = (stage: string, cpuMs: number) =>
    table.push({ stage, cpu_ms: round(cpuMs), wall_ms: NaN, server_cpu_ms: NaN })
  const layers = cpu['full sandbox (layers only) + python pass']
  if (layers !== undefined) {
    for (const [label, program] of [
      ['before: -c source', 'harness from -c source, one call'],
      ['after: .pyc', 'harness from .pyc, one call'],
    ] as const) {
      estimate(`estimated CPU per sandboxed call, ${label} (layers + program + server)`, layers + cpu[program]!)
    }
  }
  // Per call through the app, either path: the server's CPU per call plus what the sandbox processes used.
  const cpuOf = (stage: string) => sample[stage]?.cpu
  const perCall = (zygote: boolean) => sample[serverRow(zygote)]?.ours
  const bwrap = [
    perCall(false),
    cpuOf('full sandbox (layers only) + python pass'),
    cpuOf('harness from .pyc, one call'),
  ]
  const warm = [perCall(true), cpuOf(ZYGOTE_ITSELF), cpuOf(ZYGOTE_JOB)]
  for (const [label, parts] of [
    ['bubblewrap path (server per call + layers + .pyc program)', bwrap],
    ['zygote path (server per call + zygote per job + job)', warm],
  ] as const) {
    if (parts.every((part) => part !== undefined)) estimate(`estimated CPU per call, ${label}`, sum(parts as number[]))
  }
  return table
}

if (import.meta.main) {
  console.table(await run())
  process.exit(0)
}
