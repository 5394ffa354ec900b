/**
 * The local CodeRunner: the Python harness in a bubblewrap sandbox (or, without bwrap, a bare process with
 * rlimits and an empty environment). The job goes in on stdin, messages come back on fd 3, raw learner output
 * on stdout/stderr. The wall-clock limit and output caps are enforced here by killing the whole process group;
 * a killed run is an outcome, not an exception. A small pool of sandboxes is started ahead of time (each waits
 * for its job on stdin and is used once), so a request pays for IPC rather than for start-up.
 */
import { closeSync } from 'node:fs'
import type { Config } from '../config'
import { AppError } from '../errors'
import type { Logger } from '../logging'
import type { Boxed, Sandbox } from '../sandbox'
import { sandboxMemoryBytes } from '../sandbox'
import { createQueue } from './queue'
import { parseMessages, type CodeRunner, type HarnessLimits, type Job, type RunOutcome } from './runner'
// Embedded in the compiled binary: nothing is read from disk at run time and the sandbox never sees the project.
import harness from './sandbox/harness.py' with { type: 'text' }

/** The harness's own limits from the configuration; shared with the OneCompiler adapter. */
export function harnessLimits(config: Config): HarnessLimits {
  return {
    memory_mb: config.EXEC_MEMORY_MB,
    max_processes: config.EXEC_MAX_PROCESSES,
    file_bytes: config.EXEC_TMPFS_MB * 1024 * 1024,
    // CPU seconds per process (each test case is its own process): the wall clock stops it sooner anyway.
    cpu_seconds: Math.ceil(config.EXEC_TIMEOUT_MS / 1000) + 1,
    output_bytes: config.EXEC_OUTPUT_BYTES,
    timeout_ms: config.EXEC_TIMEOUT_MS,
    parallelism: config.EXEC_TEST_PARALLELISM,
  }
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

function describeExit(proc: Bun.Subprocess): string {
  const code = proc.exitCode
  if (proc.signalCode) return `The program crashed (${proc.signalCode})`
  if (code !== null && code > 128) return `The program crashed (signal ${code - 128})`
  return `The program ended without a result (exit status ${code})`
}

export interface LocalRunnerOptions {
  config: Config
  logger: Logger
  sandbox: Sandbox
}

export function createLocalRunner({ config, logger, sandbox }: LocalRunnerOptions): CodeRunner {
  const queue = createQueue(config.EXEC_CONCURRENCY, config.EXEC_QUEUE_LENGTH)
  const limits = JSON.stringify(harnessLimits(config))
  const pool: Boxed[] = []
  const active = new Set<Boxed>()
  let closed = false
  const ready = sandbox.ready().then((state) => {
    if (state.sandboxed || config.SANDBOX !== 'required') fillPool()
  })

  const spawn = (): Boxed =>
    sandbox.spawn([config.PYTHON_BIN, '-I', '-S', '-c', harness, limits], { memoryBytes: sandboxMemoryBytes(config), fds: 1 })

  function fillPool() {
    while (!closed && pool.length < config.EXEC_POOL_SIZE) pool.push(spawn())
  }

  function take(): Boxed {
    let box = pool.shift()
    // A waiting sandbox may have died (killed from outside, OOM): never hand a job to it.
    while (box && (box.proc.exitCode !== null || box.proc.signalCode !== null)) {
      box.release()
      box = pool.shift()
    }
    box ??= spawn()
    setImmediate(fillPool) // refill after this job has started, off the request's path
    return box
  }

  async function execute(job: Job, onMessage?: (m: any) => void, signal?: AbortSignal): Promise<RunOutcome> {
    const box = take()
    const proc = box.proc
    active.add(box)
    let stopped: RunOutcome['stopped']
    const stop = (kind: 'timeout' | 'output_limit', message: string) => {
      stopped ??= { kind, message }
      box.kill()
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
    let pending = ''
    const onText = (piece: string) => {
      pending += piece
      const lines = pending.split('\n')
      pending = lines.pop()!
      for (const message of parseMessages(lines.join('\n'))) onMessage?.(message)
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
      const messages = parseMessages(report)
      const finished = messages.some((m) => m.type !== 'case')
      if (!stopped && !finished && box.oomKilled()) {
        stopped = { kind: 'memory_limit', message: `Memory limit exceeded: the program used more than ${sandboxMemoryBytes(config) >> 20} MB in all` }
      }
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
      active.delete(box)
      box.release() // anything the program left behind goes with it
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
      await sandbox.requireUsable()
      await ready
      if (closed) throw new AppError('sandbox_unavailable', 503, 'The code runner is shutting down')
      return queue.run(() => {
        options.onStart?.()
        return execute(job, options.onMessage, options.signal)
      })
    },
    async health() {
      const state = await sandbox.ready()
      const refuses = !state.sandboxed && config.SANDBOX === 'required'
      return {
        execution: {
          ok: state.python.found && !refuses,
          mode: 'local',
          pool: pool.length,
          queue: queue.stats(),
          sandbox_mb: sandboxMemoryBytes(config) >> 20,
        },
      }
    },
    close() {
      closed = true
      for (const box of [...pool.splice(0), ...active]) box.release()
    },
  }
}
