/**
 * The local CodeRunner: the Python harness in a bubblewrap sandbox (or, without bwrap, a bare process with
 * rlimits and an empty environment). The job goes in on stdin, messages come back on fd 3 (read under the budgets
 * of ./channel.ts), raw learner output on stdout/stderr. The wall-clock limit and output caps are enforced here by
 * killing the whole process group; a killed run is an outcome, not an exception. A small pool of sandboxes is
 * started ahead of time (each waits for its job on stdin and is used once), so a request pays for IPC rather than
 * for start-up. Slots are shared fairly between clients (./queue.ts).
 */
import { closeSync } from 'node:fs'
import type { Config } from '../config'
import { AppError } from '../errors'
import type { Logger } from '../logging'
import type { Boxed, BoxedJob, Sandbox, WarmBoxes } from '../sandbox'
import { sandboxCpus, sandboxMemoryBytes, sandboxProcessLimit, WarmUnavailable, writeInput } from '../sandbox'
import { runsAsRoot } from '../sandbox/argv'
import { harnessModules, harnessProgram, schedulerProgram } from '../python/program'
import { compileHarness, type CompiledHarness } from '../python/compiled'
import { channelLimits, createChannel, reportLineBytes } from './channel'
import { createQueue, queueLimits } from './queue'
import {
  requireCaseCount,
  type CodeRunner,
  type HarnessLimits,
  type Job,
  type RunOptions,
  type RunOutcome,
} from './runner'

/** Start-up allowance on top of a time limit: the server's wall clock must never beat the limit it reports. */
export const START_GRACE_MS = 1000

/** The harness's own limits from the configuration; shared with the OneCompiler adapter. */
export function harnessLimits(config: Config): HarnessLimits {
  return {
    memory_mb: config.EXEC_MEMORY_MB,
    max_processes: config.EXEC_MAX_PROCESSES,
    file_bytes: config.EXEC_TMPFS_MB * 1024 * 1024,
    // CPU seconds per process, a backstop well behind the wall clock: when both raced, a spinning call ended as
    // "crashed (signal 9)" instead of the timeout it was.
    cpu_seconds: 2 * Math.ceil((config.EXEC_TIMEOUT_MS + START_GRACE_MS) / 1000),
    output_bytes: config.EXEC_OUTPUT_BYTES,
    result_bytes: config.EXEC_RESULT_BYTES,
    line_bytes: reportLineBytes(config),
    timeout_ms: config.EXEC_TIMEOUT_MS,
    parallelism: config.EXEC_TEST_PARALLELISM,
  }
}

/**
 * Wall-clock budget of a job: a call's limit plus start-up grace; a batch has one limit for all its cases
 * (never less than one case needs), however many cases it holds.
 */
export function jobBudgetMs(config: Config, job: Job): number {
  const call = config.EXEC_TIMEOUT_MS + START_GRACE_MS
  return job.op === 'tests' ? Math.max(config.EXEC_BATCH_TIMEOUT_MS, call) : call
}

/** What the learner is told when the budget runs out: the limit they can act on, not the grace. */
export function timeLimitMessage(config: Config, job: Job): string {
  if (job.op !== 'tests') return `Time limit exceeded (${config.EXEC_TIMEOUT_MS} ms)`
  return `Not finished: the batch ran out of time (${jobBudgetMs(config, job)} ms for all ${job.cases.length} cases)`
}

/** Reads a stream to its end keeping at most `cap` bytes; calls `over` once when the cap is passed. */
async function readCapped(stream: ReadableStream<Uint8Array>, cap: number, over: () => void): Promise<string> {
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
    text += decoder.decode(chunk, { stream: true })
  }
  return text
}

const SIGXCPU = 24

/** How a run that reported nothing ended; the CPU limit's warning signal is the time limit it is, not a crash. */
function describeExit(config: Config, box: BoxedJob): NonNullable<RunOutcome['stopped']> {
  const { code, signal: killedBy } = box.status()
  // bwrap passes 128 + signal on; the zygote reports the signal itself
  const signal = killedBy ?? (code !== null && code > 128 ? code - 128 : null)
  if (signal === null)
    return { kind: 'runtime_error', message: `The program ended without a result (exit status ${code})` }
  if (signal === 'SIGXCPU' || signal === SIGXCPU) {
    return {
      kind: 'timeout',
      message: `Time limit exceeded (${config.EXEC_TIMEOUT_MS} ms): the program used up its CPU time`,
    }
  }
  return {
    kind: 'runtime_error',
    message: `The program crashed (${typeof signal === 'string' ? signal : `signal ${signal}`})`,
  }
}

/** A bubblewrap sandbox as a job (the path where no warm boxes exist). */
function boxedJob(box: Boxed): BoxedJob {
  const { proc } = box
  const channel = proc.stdio[3] as unknown as number
  return {
    stdout: proc.stdout,
    stderr: proc.stderr,
    channel,
    write: (text) => writeInput(proc, text),
    exited: proc.exited,
    status: () => ({ code: proc.exitCode, signal: proc.signalCode }),
    running: () => proc.exitCode === null && proc.signalCode === null,
    unstarted: () => false, // bubblewrap does not tell: its exit is the program's
    oomKilled: () => box.oomKilled(),
    kill: () => box.kill(),
    release() {
      box.release()
      try {
        closeSync(channel) // a Bun file stream never closes the descriptor it reads
      } catch {
        // already closed
      }
    },
  }
}

export interface LocalRunnerOptions {
  config: Config
  logger: Logger
  sandbox: Sandbox
  /** The program run in each sandbox; the embedded harness (src/python/program.ts) unless a test plays a misbehaving one. */
  harness?: string
}

export function createLocalRunner({
  config,
  logger,
  sandbox,
  harness = harnessProgram,
}: LocalRunnerOptions): CodeRunner {
  const queue = createQueue(queueLimits(config))
  const limits = JSON.stringify(harnessLimits(config))
  /** Sandboxes started ahead of time, each waiting for its job on stdin (warm boxes or bubblewrap ones). */
  const pool: Promise<BoxedJob>[] = []
  const active = new Set<BoxedJob>()
  /** Jobs forked from a warm harness (src/sandbox/warm.ts) where the sandbox offers them; else the pool. */
  let warm: WarmBoxes | null = null
  let closed = false
  /** The harness as bytecode (src/python/compiled.ts), made once; null: every sandbox compiles it from `-c`. */
  let compiled: CompiledHarness | null = null
  let command: string[] = ['-c', harness, limits, schedulerProgram]
  const ready = Promise.all([
    sandbox.ready(),
    compileHarness(config.PYTHON_BIN, { learner: harness, scheduler: schedulerProgram }),
  ]).then(([state, made]) => {
    if ('error' in made) {
      logger.warn('could not precompile the harness; each sandbox compiles it from source', { error: made.error })
    } else if (closed || !(state.sandboxed || runsAsRoot())) {
      // Without bwrap and without a uid of its own, learner code runs as we do and could rewrite the file
      // that the next jobs run: those compile from source instead.
      made.remove()
    } else {
      compiled = made // at the same path inside a sandbox (a read-only bind) as on the host
      command = [made.learner, limits, made.scheduler]
      warm = sandbox.warm({
        script: made.learner,
        args: [limits, made.scheduler],
        preload: harnessModules,
        readOnly: [made.dir],
        // Our harness defines everything first and starts in run() (src/python/learner-process.py); a stand-in
        // harness of a test runs whole in each job.
        ...(harness === harnessProgram ? { entry: 'run' } : {}),
      })
    }
    if (state.sandboxed || config.SANDBOX !== 'required') fillPool()
  })

  const spawn = (): BoxedJob =>
    boxedJob(
      sandbox.spawn([config.PYTHON_BIN, '-I', '-S', ...command], {
        memoryBytes: sandboxMemoryBytes(config),
        fds: 1,
        ...(compiled ? { readOnly: [compiled.dir] } : {}),
      }),
    )

  async function spawnWarm(boxes: WarmBoxes): Promise<BoxedJob> {
    try {
      return await boxes.spawn({
        memoryBytes: sandboxMemoryBytes(config),
        processes: sandboxProcessLimit(config),
        cpus: sandboxCpus(config),
        tmpfsBytes: config.EXEC_TMPFS_MB * 1024 * 1024,
        env: {},
      })
    } catch (error) {
      if (error instanceof WarmUnavailable && warm) {
        logger.warn('the sandbox zygote cannot start; every job starts through bubblewrap', { error: error.message })
        warm = null
      } else if (warm) {
        logger.warn('the warm sandbox failed; this job starts through bubblewrap', { error: (error as Error).message })
      }
      return spawn()
    }
  }

  const start = (): Promise<BoxedJob> => (warm ? spawnWarm(warm) : Promise.resolve().then(spawn))

  function fillPool() {
    while (!closed && pool.length < config.EXEC_POOL_SIZE) {
      const box = start()
      box.catch(() => {}) // its taker sees the failure
      pool.push(box)
    }
  }

  async function take(): Promise<BoxedJob> {
    setImmediate(fillPool) // refill after this job has started, off the request's path
    for (let next = pool.shift(); next; next = pool.shift()) {
      const box = await next.catch(() => null)
      // A waiting sandbox may have died (killed from outside, OOM): never hand a job to it.
      if (box?.running()) return box
      box?.release()
    }
    return start()
  }

  /**
   * Runs the job; once more in a fresh sandbox when the first ended before its program started (a warm box whose
   * set-up failed: nothing of the job ran there, so nothing runs twice).
   */
  async function execute(job: Job, options: RunOptions): Promise<RunOutcome> {
    const first = await attempt(await take(), job, options)
    if (!first.box.unstarted() || first.outcome.messages.length > 0) return first.outcome
    logger.warn('a sandbox ended before its program started; the job runs in a new one')
    // Not from the pool: its sandboxes may have been started the same way.
    return (await attempt(await start(), job, options)).outcome
  }

  async function attempt(
    box: BoxedJob,
    job: Job,
    { signal, onMessage }: RunOptions,
  ): Promise<{ box: BoxedJob; outcome: RunOutcome }> {
    active.add(box)
    const channel = createChannel(job, channelLimits(config, job), onMessage)
    let stopped: RunOutcome['stopped']
    const stop = (kind: 'timeout' | 'output_limit', message: string) => {
      stopped ??= { kind, message }
      channel.halt()
      box.kill()
    }
    const timer = setTimeout(() => stop('timeout', timeLimitMessage(config, job)), jobBudgetMs(config, job))
    const onAbort = () => stop('timeout', 'The request was cancelled')
    signal?.addEventListener('abort', onAbort)
    if (signal?.aborted) onAbort()
    const cap = config.EXEC_OUTPUT_BYTES
    const outputLimit = () => stop('output_limit', `Output limit exceeded: more than ${cap} bytes`)
    const readChannel = async () => {
      for await (const chunk of Bun.file(box.channel).stream()) {
        await channel.push(chunk)
        if (channel.violation) return stop('output_limit', channel.violation)
        if (stopped) return
      }
    }
    try {
      void box.write(JSON.stringify(job)) // a sandbox that died before reading it ends as its exit says
      const [stdout, stderr] = await Promise.all([
        readCapped(box.stdout, cap, outputLimit),
        readCapped(box.stderr, cap, outputLimit),
        readChannel(),
      ])
      const messages = channel.messages
      const finished = messages.some((m) => m.type !== 'case')
      // Every stream has ended, so nothing more can come; how the process ended matters only for a run that
      // reported nothing (release() below reaps it either way).
      if (!stopped && !finished) await box.exited
      if (!stopped && !finished && box.oomKilled()) {
        stopped = {
          kind: 'memory_limit',
          message: `Memory limit exceeded: the program used more than ${sandboxMemoryBytes(config) >> 20} MB in all`,
        }
      }
      if (!stopped && !finished) stopped = describeExit(config, box)
      return { box, outcome: { messages, stdout, stderr, stopped, method: 'local_sandbox' } }
    } catch (error) {
      // a pipe failed under us: the sandbox is gone, its exit says how
      logger.warn('sandbox failed', { error: (error as Error).message })
      await box.exited
      const stopped = describeExit(config, box)
      return { box, outcome: { messages: [], stdout: '', stderr: '', stopped, method: 'local_sandbox' } }
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      active.delete(box)
      box.release() // anything the program left behind goes with it
    }
  }

  return {
    method: 'local_sandbox',
    async run(job, options = {}) {
      if (job.op === 'tests') requireCaseCount(job.cases.length, config.EXEC_MAX_CASES)
      await sandbox.requireUsable()
      await ready
      if (closed) throw new AppError('sandbox_unavailable', 503, 'The code runner is shutting down')
      return queue.run(
        () => {
          options.onStart?.()
          return execute(job, options)
        },
        { client: options.client, signal: options.signal },
      )
    },
    async health() {
      const state = await sandbox.ready()
      const refuses = !state.sandboxed && config.SANDBOX === 'required'
      return {
        execution: {
          ok: state.python.found && !refuses,
          mode: 'local',
          pool: pool.length,
          start: warm ? 'zygote' : 'bubblewrap',
          queue: queue.stats(),
          sandbox_mb: sandboxMemoryBytes(config) >> 20,
        },
      }
    },
    close() {
      closed = true
      for (const box of active) box.release()
      for (const box of pool.splice(0)) void box.then((waiting) => waiting.release()).catch(() => {})
      warm?.close()
      compiled?.remove() // the sandboxes still running keep their bind mount of the folder
    },
  }
}
