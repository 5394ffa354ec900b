/**
 * CPU per job on the warm path, and the server's own CPU per call on either path: the rows bench/breakdown.bench.ts
 * adds next to its bubblewrap layers.
 */
import { readFileSync } from 'node:fs'
import { closeServices, createApp } from '../src/app'
import { loadConfig } from '../src/config'
import type { WarmBoxes } from '../src/sandbox'
import type { WarmLimits } from '../src/sandbox/warm'
import type { ZygoteExit } from '../src/sandbox/zygote'
import { descendants, percentile, postJson } from './measure'

/** /proc/<pid>/stat counts CPU in USER_HZ ticks, 100 per second on Linux. */
const TICK_MS = 10

const statFields = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ') // [0] is field 3 (state)
}

/** utime + stime of one process, without the children it reaped (its jobs), in ms. */
const ownCpuMs = (pid: number) => (Number(statFields(pid)[11]) + Number(statFields(pid)[12])) * TICK_MS

/** Our zygote: the child of this process whose command line is the zygote's program. */
function zygotePid(): number | null {
  for (const pid of descendants(process.pid)) {
    try {
      const mine = Number(statFields(pid)[1]) === process.pid
      if (mine && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('zygote')) return pid
    } catch {
      // gone meanwhile
    }
  }
  return null
}

/**
 * `runs` jobs, one after the other, each given `input` (one call): per job (medians) the CPU the zygote reports
 * for it (the box's set-up after the fork, then the harness: every process of the job it reaped), the wall time
 * from asking for a box to its exit, and this process's CPU for it (cgroup create/remove, the requests to the
 * zygote, opening and closing the pipes). `zygote`: the zygote's own CPU per job (fork, pipes, pidfd, reaping),
 * from its utime + stime over all the jobs (10 ms ticks, hence the mean). With `waitMs`, each box waits that long
 * before it gets its job, as a pooled one does, and the wall time runs from the job's input to its exit.
 */
export async function warmJobCpu(boxes: WarmBoxes, limits: WarmLimits, input: string, runs: number, waitMs = 0) {
  const job: number[] = []
  const wall: number[] = []
  const ours: number[] = []
  let zygote: number | null = null
  let zygoteBefore = NaN
  for (let i = 0; i <= runs; i++) {
    const before = process.cpuUsage()
    let started = performance.now()
    const box = await boxes.spawn(limits)
    if (waitMs) {
      await Bun.sleep(waitMs)
      started = performance.now()
    }
    await box.write(input)
    const exit = (await box.exited) as ZygoteExit
    const took = performance.now() - started
    box.release()
    const own = process.cpuUsage(before)
    if (i === 0) {
      // the first job started the zygote: not counted
      zygote = zygotePid()
      zygoteBefore = zygote === null ? NaN : ownCpuMs(zygote)
      continue
    }
    job.push(exit.cpuMs ?? NaN)
    wall.push(took)
    ours.push((own.user + own.system) / 1000)
  }
  return {
    cpu: percentile(job, 50),
    wall: percentile(wall, 50),
    ours: percentile(ours, 50),
    zygote: zygote === null ? NaN : (ownCpuMs(zygote) - zygoteBefore) / runs,
  }
}

/**
 * This process's CPU per execute-endpoint call (one-line function) through app.handle, `runs` calls one after the
 * other, on one path: process.cpuUsage() over all of them divided by `runs`. It holds everything the server does
 * for a call (request, validation, queue, pipes and JSON, cgroup create/remove, starting the pool's next box:
 * spawning bubblewrap, or a request to the zygote) and Bun's own threads (GC, I/O), not the sandbox processes.
 * `wall`: the median call.
 */
export async function serverCpuPerCall(zygote: boolean, runs: number) {
  const app = createApp({
    config: loadConfig({ LOG_LEVEL: 'silent', EXEC_ZYGOTE: String(zygote), RATE_EXECUTION_PER_MIN: '0' }),
  })
  const body = {
    pythonCode: '@endpoint\ndef add(a: int, b: int):\n    return a + b',
    endpoint: '/add',
    args: { a: 1, b: 2 },
  }
  const call = async () => {
    const answer = await postJson(app, '/api/execute-endpoint', body)
    if (answer.result !== 3) throw new Error(`unexpected answer ${JSON.stringify(answer)}`)
  }
  try {
    for (let i = 0; i < 5; i++) await call() // the probes, the pool, the JIT
    const start = ((await app.decorator.services.runner.health()) as any).execution.start
    if (start !== (zygote ? 'zygote' : 'bubblewrap')) throw new Error(`EXEC_ZYGOTE=${zygote} started jobs by ${start}`)
    const wall: number[] = []
    const before = process.cpuUsage()
    for (let i = 0; i < runs; i++) {
      const started = performance.now()
      await call()
      wall.push(performance.now() - started)
    }
    const used = process.cpuUsage(before)
    return { cpu: (used.user + used.system) / 1000 / runs, wall: percentile(wall, 50) }
  } finally {
    await closeServices(app.decorator.services)
  }
}
