/**
 * The local CodeRunner: the Python harness in a bubblewrap sandbox (or, without bwrap, a bare process with
 * rlimits and an empty environment). The job goes in on stdin, messages come back on fd 3 (read under the budgets
 * of ./channel.ts), raw learner output on stdout/stderr. The wall-clock limit and output caps are enforced here by
 * killing the whole process group; a killed run is an outcome, not an exception. Where each job's sandbox comes
 * from (forked from the zygote or started through bubblewrap, a pool of them waiting) is ./harness-boxes.ts.
 * Slots are shared fairly between clients (./queue.ts).
 */
import type { HarnessBoxSettings } from './harness-boxes'
import type { ChannelSettings } from './channel'
import type { QueueSettings } from './queue'
import { AppError } from '../errors'
import type { Logger } from '../logging'
import type { BoxedJob, Sandbox } from '../sandbox'
import { sandboxMemoryBytes } from '../sandbox'
import { harnessProgram } from '../python/program'
import { createHarnessBoxes } from './harness-boxes'
import { pending, warmingUp } from '../services'
import { channelLimits, createChannel, reportLineBytes } from './channel'
import { createQueue, queueLimits, type Queue } from './queue'
import {
  requireCaseCount,
  type CodeRunner,
  type HarnessLimits,
  type Job,
  type RunOptions,
  type RunOutcome,
} from './runner'

/** What the harness's limits and a job's time budget come from; the OneCompiler adapter reads the same. */
export interface HarnessLimitSettings extends ChannelSettings {
  EXEC_MEMORY_MB: number
  EXEC_MAX_PROCESSES: number
  EXEC_TMPFS_MB: number
  EXEC_TIMEOUT_MS: number
  EXEC_TEST_PARALLELISM: number
  EXEC_BATCH_TIMEOUT_MS: number
}

/** The settings this module reads (src/config.ts documents each). */
export interface LocalRunnerSettings extends HarnessLimitSettings, HarnessBoxSettings, QueueSettings {
  EXEC_BATCH_TIMEOUT_MS: number
  EXEC_MAX_CASES: number
  EXEC_TIMEOUT_MS: number
}

/** Start-up allowance on top of a time limit: the server's wall clock must never beat the limit it reports. */
export const START_GRACE_MS = 1000

/** The harness's own limits from the configuration; shared with the OneCompiler adapter. */
export function harnessLimits(config: HarnessLimitSettings): HarnessLimits {
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
export function jobBudgetMs(config: HarnessLimitSettings, job: Job): number {
  const call = config.EXEC_TIMEOUT_MS + START_GRACE_MS
  return job.op === 'tests' ? Math.max(config.EXEC_BATCH_TIMEOUT_MS, call) : call
}

/** What the learner is told when the budget runs out: the limit they can act on, not the grace. */
export function timeLimitMessage(config: HarnessLimitSettings, job: Job): string {
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

/**
 * A job as the harness reads it on stdin. A test batch's inputs come after the job rather than in it: its first
 * line is the job's length in bytes, then the job, then the inputs as one JSON array. The learner process reads the
 * job only; the scheduler reads the inputs and hands each case's process its own (src/python/harness.py), so no
 * process that runs learner code ever holds another case's input. Any other job is its JSON.
 */
export function jobInput(job: Job): string {
  if (job.op !== 'tests') return JSON.stringify(job)
  const head = JSON.stringify({
    ...job,
    cases: job.cases.map(({ endpoint }) => ({ endpoint })),
    inputs_follow: true,
  })
  return `${Buffer.byteLength(head)}\n${head}${JSON.stringify(job.cases.map((c) => c.input ?? null))}`
}

const SIGXCPU = 24

/** How a run that reported nothing ended; the CPU limit's warning signal is the time limit it is, not a crash. */
function describeExit(config: LocalRunnerSettings, box: BoxedJob): NonNullable<RunOutcome['stopped']> {
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

export interface LocalRunnerOptions {
  config: LocalRunnerSettings
  logger: Logger
  sandbox: Sandbox
  /** The program run in each sandbox; the embedded harness (src/python/program.ts) unless a test plays a misbehaving one. */
  harness?: string
  /** The execution slots; by default made from the configuration (a test passes one it watches). */
  queue?: Queue
}

export function createLocalRunner({
  config,
  logger,
  sandbox,
  harness = harnessProgram,
  queue = createQueue(queueLimits(config)),
}: LocalRunnerOptions): CodeRunner {
  const limits = JSON.stringify(harnessLimits(config))
  const active = new Set<BoxedJob>()
  let closed = false
  const boxes = createHarnessBoxes({ config, logger, sandbox, harness, limits })

  /**
   * Runs the job; once more in a fresh sandbox when the first ended before its program started (a warm box whose
   * set-up failed: nothing of the job ran there, so nothing runs twice).
   */
  async function execute(job: Job, options: RunOptions): Promise<RunOutcome> {
    const first = await attempt(await boxes.take(), job, options)
    if (!first.box.unstarted() || first.outcome.messages.length > 0) return first.outcome
    logger.warn('a sandbox ended before its program started; the job runs in a new one')
    // Not from the pool: its sandboxes may have been started the same way.
    return (await attempt(await boxes.start(), job, options)).outcome
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
      void box.write(jobInput(job)) // a sandbox that died before reading it ends as its exit says
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
      await boxes.ready
      if (closed) throw new AppError('sandbox_unavailable', 503, 'The code runner is shutting down')
      return queue.run(
        () => {
          options.onStart?.()
          return execute(job, options)
        },
        { client: options.client, signal: options.signal },
      )
    },
    warmUp: () => boxes.ready,
    async health() {
      if (pending(sandbox.ready())) return warmingUp('execution')
      const state = await sandbox.ready()
      const refuses = !state.sandboxed && config.SANDBOX === 'required'
      return {
        execution: {
          ok: state.python.found && !refuses,
          mode: 'local',
          ...boxes.stats(),
          queue: queue.stats(),
          sandbox_mb: sandboxMemoryBytes(config) >> 20,
        },
      }
    },
    close() {
      closed = true
      for (const box of active) box.release()
      boxes.close()
    },
  }
}
