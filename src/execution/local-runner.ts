/**
 * The local CodeRunner: the Python harness in a bubblewrap sandbox (or, without bwrap, a bare process with
 * rlimits and an empty environment). The job goes in on stdin, messages come back on fd 3, raw learner output
 * on stdout/stderr. The wall-clock limit and output caps are enforced here by killing the whole process group;
 * a killed run is an outcome, not an exception. A small pool of sandboxes is started ahead of time (each waits
 * for its job on stdin and is used once), so a request pays for IPC rather than for start-up.
 */
import { closeSync } from 'node:fs'
import { constants } from 'node:os'
import type { Config } from '../config'
import { AppError } from '../errors'
import type { Logger } from '../logging'
import { probePython, type PythonProbe, type SandboxProbe } from './probe'
import { createQueue } from './queue'
import { parseMessages, type CodeRunner, type HarnessLimits, type HarnessMessage, type Job, type RunOutcome } from './runner'
import { probeCgroups, type SandboxCgroup, type SandboxCgroups } from './sandbox/cgroup'
import { dropRootPrefix, sandboxArgv } from './sandbox/command'
import { harnessProgram, schedulerProgram } from '../python/program'

type Proc = Bun.Subprocess<'pipe', 'pipe', 'pipe'>

/** The harness's own limits from the configuration; shared with the OneCompiler adapter. */
export function harnessLimits(config: Config): HarnessLimits {
  return {
    memory_mb: config.EXEC_MEMORY_MB,
    max_processes: config.EXEC_MAX_PROCESSES,
    file_bytes: config.EXEC_TMPFS_MB * 1024 * 1024,
    // CPU seconds per learner process, well behind the wall clock: the harness's own time limit (a `timeout`)
    // must come first, even for a process that spins on two threads; this stops what it cannot (leftovers).
    cpu_seconds: Math.ceil((2 * config.EXEC_TIMEOUT_MS) / 1000) + 1,
    output_bytes: config.EXEC_OUTPUT_BYTES,
    result_bytes: config.EXEC_RESULT_BYTES,
    line_bytes: harnessLineBytes(config),
    timeout_ms: config.EXEC_TIMEOUT_MS,
    parallelism: config.EXEC_TEST_PARALLELISM,
  }
}

/** The longest line the harness writes on its result channel: a result, its stdout and stderr, and the rest. */
export function harnessLineBytes(config: Config): number {
  return config.EXEC_RESULT_BYTES + 2 * config.EXEC_OUTPUT_BYTES + 64 * 1024
}

/**
 * Memory of a whole sandbox (cgroup), all its processes and its /tmp together: RLIMIT_AS bounds each process,
 * and a batch legitimately runs EXEC_TEST_PARALLELISM cases at once next to the harness.
 */
export function sandboxMemoryBytes(config: Config): number {
  return (config.EXEC_MEMORY_MB * (config.EXEC_TEST_PARALLELISM + 1) + config.EXEC_TMPFS_MB) * 1024 * 1024
}

/** Wall-clock budget of a job: one call, or the cases of a batch spread over the parallel workers. */
export function jobBudgetMs(config: Config, job: Job): number {
  if (job.op !== 'tests') return config.EXEC_TIMEOUT_MS + 1000
  const rounds = Math.max(1, Math.ceil(job.cases.length / config.EXEC_TEST_PARALLELISM))
  return config.EXEC_TIMEOUT_MS * rounds + 2000
}

/** Reads a stream to its end keeping at most `cap` bytes; calls `over` once when the cap is passed. */
async function readCapped(
  stream: ReadableStream<Uint8Array>,
  cap: number,
  over: () => void,
  onText?: (text: string) => void,
): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  let size = 0
  for await (const chunk of stream) {
    if (size + chunk.byteLength > cap) {
      text += decoder.decode(chunk.subarray(0, Math.max(0, cap - size)))
      over()
      break
    }
    size += chunk.byteLength
    const piece = decoder.decode(chunk, { stream: true })
    text += piece
    onText?.(piece)
  }
  return text
}

function killGroup(proc: Proc) {
  try {
    process.kill(-proc.pid, 'SIGKILL') // the whole process group: bwrap (and with it its pid namespace) or python
  } catch {
    try {
      proc.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
}

/**
 * The sandbox's first process is the harness's learner process (src/python/harness.py): its death by SIGXCPU is
 * its CPU time limit, a time limit like the wall clock (bwrap passes a signal on as 128 + its number).
 */
function cpuLimitHit(proc: Proc): boolean {
  return proc.signalCode === 'SIGXCPU' || proc.exitCode === 128 + constants.signals.SIGXCPU
}

function describeExit(proc: Proc): string {
  const code = proc.exitCode
  if (proc.signalCode) return `The program crashed (${proc.signalCode})`
  if (code !== null && code > 128) return `The program crashed (signal ${code - 128})`
  return `The program ended without a result (exit status ${code})`
}

export interface LocalRunnerOptions {
  config: Config
  logger: Logger
  probes: Promise<[PythonProbe, SandboxProbe]>
}

export function createLocalRunner({ config, logger, probes }: LocalRunnerOptions): CodeRunner {
  const queue = createQueue(config.EXEC_CONCURRENCY, config.EXEC_QUEUE_LENGTH)
  const limits = JSON.stringify(harnessLimits(config))
  const dropRoot = dropRootPrefix()
  const pool: Proc[] = []
  const active = new Set<Proc>()
  const groups = new Map<Proc, SandboxCgroup>()
  let pythonFound = probes.then(([python]) => python.found)
  const cgroupsReady = probeCgroups()
  let cgroups: SandboxCgroups | undefined
  let closed = false
  let sandboxed = false
  const ready = probes.then(async ([, sandbox]) => {
    cgroups = await cgroupsReady
    if (cgroups.kind === 'none') logger.warn('no memory cgroup: a sandbox is limited per process only', { reason: cgroups.reason })
    sandboxed = config.SANDBOX !== 'off' && sandbox.available
    if (!sandboxed) {
      logger.warn('LEARNER CODE RUNS WITHOUT A SANDBOX: only rlimits and an empty environment protect this host', {
        reason: config.SANDBOX === 'off' ? 'SANDBOX=off' : sandbox.reason,
        refuses: config.SANDBOX === 'required',
      })
    }
    if (sandboxed || config.SANDBOX !== 'required') fillPool()
  })

  function spawn(): Proc {
    const python = [config.PYTHON_BIN, '-I', '-S', '-c', harnessProgram, limits, schedulerProgram]
    const cmd = [...dropRoot, ...(sandboxed ? sandboxArgv(python, { tmpfsBytes: config.EXEC_TMPFS_MB * 1024 * 1024 }) : python)]
    // bwrap gets an empty environment (its pid 1 inside would show it); bare python gets only the fixed three.
    const env: Record<string, string> = sandboxed ? {} : { PATH: '/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8' }
    const group = cgroups?.create(sandboxMemoryBytes(config))
    if (cgroups && cgroups.kind !== 'none' && !group) logger.warn('could not create a memory cgroup; this sandbox is limited per process only')
    if (group) cmd[0] = Bun.which(cmd[0]!) ?? cmd[0]! // the joining shell has no PATH
    const proc = Bun.spawn(group ? group.wrap(cmd) : cmd, { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env, cwd: '/tmp', detached: true }) as Proc
    if (group) groups.set(proc, group)
    return proc
  }

  function discard(proc: Proc) {
    killGroup(proc)
    groups.get(proc)?.remove()
    groups.delete(proc)
  }

  function fillPool() {
    while (!closed && pool.length < config.EXEC_POOL_SIZE) pool.push(spawn())
  }

  function take(): Proc {
    let proc = pool.shift()
    // A waiting sandbox may have died (killed from outside, OOM): never hand a job to it.
    while (proc && (proc.exitCode !== null || proc.signalCode !== null)) {
      discard(proc)
      proc = pool.shift()
    }
    proc ??= spawn()
    setImmediate(fillPool) // refill after this job has started, off the request's path
    return proc
  }

  async function execute(job: Job, onMessage?: (m: any) => void, signal?: AbortSignal): Promise<RunOutcome> {
    const proc = take()
    active.add(proc)
    let stopped: RunOutcome['stopped']
    const stop = (kind: 'timeout' | 'output_limit', message: string) => {
      stopped ??= { kind, message }
      killGroup(proc)
    }
    const budget = jobBudgetMs(config, job)
    // The budget has start-up grace on top of the limit; the learner is told the limit they can act on.
    const said = job.op === 'tests' ? `The batch ran out of time (${budget} ms for ${job.cases.length} cases)` : `Time limit exceeded (${config.EXEC_TIMEOUT_MS} ms)`
    const timer = setTimeout(() => stop('timeout', said), budget)
    const onAbort = () => stop('timeout', 'The request was cancelled')
    signal?.addEventListener('abort', onAbort)
    const cap = config.EXEC_OUTPUT_BYTES
    const outputLimit = () => stop('output_limit', `Output limit exceeded: more than ${cap} bytes`)
    const resultFd = proc.stdio[3] as unknown as number
    const memoryMessage = `Memory limit exceeded: the program used more than ${sandboxMemoryBytes(config) >> 20} MB in all`
    // The harness reports a learner process killed by SIGKILL; in a group that counted an OOM kill, that was memory.
    const named = (message: HarnessMessage) =>
      message.signal === 'SIGKILL' && groups.get(proc)?.oomKilled() ? { ...message, error_type: 'memory_limit', message: memoryMessage } : message
    let pending = ''
    const onText = (piece: string) => {
      pending += piece
      const lines = pending.split('\n')
      pending = lines.pop()!
      for (const message of parseMessages(lines.join('\n'))) onMessage?.(named(message))
    }
    try {
      proc.stdin.write(JSON.stringify(job))
      proc.stdin.end()
      const [stdout, stderr, report] = await Promise.all([
        readCapped(proc.stdout, cap, outputLimit),
        readCapped(proc.stderr, cap, outputLimit),
        readCapped(Bun.file(resultFd).stream(), Math.max(64 * cap, 16 << 20), outputLimit, onMessage && onText),
        proc.exited,
      ])
      const messages = parseMessages(report).map(named)
      const finished = messages.some((m) => m.type !== 'case')
      if (!stopped && !finished && groups.get(proc)?.oomKilled()) stopped = { kind: 'memory_limit', message: memoryMessage }
      if (!stopped && !finished && cpuLimitHit(proc)) stopped = { kind: 'timeout', message: 'CPU time limit exceeded' }
      if (!stopped && !finished) stopped = { kind: 'runtime_error', message: describeExit(proc) }
      return { messages, stdout, stderr, stopped, method: 'local_sandbox' }
    } catch (error) {
      // stdin closed early: the sandbox died before reading its job
      logger.warn('sandbox failed', { error: (error as Error).message })
      await proc.exited
      return { messages: [], stdout: '', stderr: '', stopped: { kind: 'runtime_error', message: describeExit(proc) }, method: 'local_sandbox' }
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      active.delete(proc)
      discard(proc) // anything the program left behind goes with it
      try {
        closeSync(resultFd)
      } catch {
        // already closed by the stream
      }
    }
  }

  return {
    method: 'local_sandbox',
    async run(job, options = {}) {
      await ready
      if (!(await pythonFound)) {
        // Our fault, not the learner's: a 503, never a "program ended without a result". The start-up probe
        // may have failed on a busy machine, so look once more before refusing.
        pythonFound = probePython(config.PYTHON_BIN).then((python) => python.found)
        if (!(await pythonFound)) {
          throw new AppError('python_unavailable', 503, 'Python is not available on this server; the operator must fix PYTHON_BIN')
        }
      }
      if (!sandboxed && config.SANDBOX === 'required') {
        throw new AppError('sandbox_unavailable', 503, 'The sandbox is required but bubblewrap is not available here')
      }
      if (closed) throw new AppError('sandbox_unavailable', 503, 'The code runner is shutting down')
      return queue.run(() => {
        options.onStart?.()
        return execute(job, options.onMessage, options.signal)
      })
    },
    async health() {
      const [python, sandbox] = await probes
      const refuses = !sandbox.available && config.SANDBOX === 'required'
      return {
        python: { ok: python.found, ...python },
        sandbox: {
          ok: sandbox.available || config.SANDBOX === 'off',
          mode: config.SANDBOX,
          ...sandbox,
          ...(sandboxed ? {} : { warning: refuses ? 'refusing to run code: no sandbox' : 'learner code runs without a sandbox' }),
          memory: await cgroupsReady.then((c) =>
            c.kind === 'none'
              ? { limit: 'per process', reason: c.reason }
              : { limit: 'per sandbox', cgroup: c.kind, sandbox_mb: sandboxMemoryBytes(config) >> 20 },
          ),
        },
        execution: { ok: python.found && !refuses, mode: 'local', pool: pool.length, queue: queue.stats() },
      }
    },
    close() {
      closed = true
      for (const proc of [...pool.splice(0), ...active]) discard(proc)
      cgroups?.close()
    },
  }
}
