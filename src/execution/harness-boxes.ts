/**
 * Where each job's sandbox comes from, for the local runner (./local-runner.ts): the harness compiled to bytecode
 * once, then either forked from the sandbox's zygote (src/sandbox/warm.ts: as root with a working bubblewrap,
 * unless EXEC_ZYGOTE=false) or started through bubblewrap with a new interpreter. A pool of EXEC_POOL_SIZE of them
 * is started ahead of time (each waits for its job on stdin and is used once), so a request pays for IPC rather
 * than for start-up, and refilled after each job has started. A warm box that cannot be had falls back to
 * bubblewrap for that job; a zygote that cannot start at all ends the warm path, with one warning.
 */
import type { SandboxLimitSettings } from '../sandbox'
import type { Logger } from '../logging'
import { compileHarness, type CompiledHarness } from '../python/compiled'
import { harnessModules, harnessProgram, schedulerProgram } from '../python/program'
import type { Boxed, BoxedJob, Sandbox, WarmBoxes, ZygotePayload } from '../sandbox'
import type { WarmLimits } from '../sandbox/warm'
import { sandboxCpus, sandboxMemoryBytes, sandboxProcessLimit, WarmUnavailable, writeInput } from '../sandbox'
import { runsAsRoot } from '../sandbox/argv'
import { closeQuietly } from '../sandbox/seccomp'

/** The settings this module reads (src/config.ts documents each). */
export interface HarnessBoxSettings extends SandboxLimitSettings {
  EXEC_POOL_SIZE: number
  PYTHON_BIN: string
  SANDBOX: 'auto' | 'required' | 'off'
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
      closeQuietly(channel) // a Bun file stream never closes the descriptor it reads
    },
  }
}

/**
 * The harness as the zygote's payload: its bytecode and arguments, the modules it imports, and, for our harness,
 * `run()` as its start (it defines everything first: src/python/learner-process.py). A stand-in harness of a test
 * runs whole in each job.
 */
export function harnessPayload(made: CompiledHarness, limits: string, harness = harnessProgram): ZygotePayload {
  return {
    script: made.learner,
    args: [limits, made.scheduler],
    preload: harnessModules,
    readOnly: [made.dir],
    ...(harness === harnessProgram ? { entry: 'run' } : {}),
  }
}

/** The limits of one warm box, the same for every execution. */
export function boxLimits(config: HarnessBoxSettings): WarmLimits {
  return {
    memoryBytes: sandboxMemoryBytes(config),
    processes: sandboxProcessLimit(config),
    cpus: sandboxCpus(config),
    tmpfsBytes: config.EXEC_TMPFS_MB * 1024 * 1024,
    env: {},
  }
}

export interface HarnessBoxes {
  /** Resolves once the harness is compiled and the pool is being filled; reading it starts that work. */
  readonly ready: Promise<void>
  /** A sandbox for one job: a waiting one from the pool when there is one alive, else a new one. */
  take(): Promise<BoxedJob>
  /** A new sandbox, never from the pool. */
  start(): Promise<BoxedJob>
  /** For /health: waiting sandboxes and how jobs start. */
  stats(): { pool: number; start: 'zygote' | 'bubblewrap' }
  close(): void
}

export interface HarnessBoxesOptions {
  config: HarnessBoxSettings
  logger: Logger
  sandbox: Sandbox
  /** The learner process's program (the embedded harness unless a test plays a misbehaving one). */
  harness: string
  /** The harness's limits, as JSON (its first argument). */
  limits: string
}

export function createHarnessBoxes({ config, logger, sandbox, harness, limits }: HarnessBoxesOptions): HarnessBoxes {
  let closed = false
  /** Sandboxes started ahead of time, each waiting for its job on stdin (warm boxes or bubblewrap ones). */
  const pool: Promise<BoxedJob>[] = []
  /** Jobs forked from a warm harness (src/sandbox/warm.ts) where the sandbox offers them; else the pool. */
  let warm: WarmBoxes | null = null
  /** The harness as bytecode (src/python/compiled.ts), made once; null: every sandbox compiles it from `-c`. */
  let compiled: CompiledHarness | null = null
  let command: string[] = ['-c', harness, limits, schedulerProgram]
  // Started by the first job or by the runner's warm-up after the server listens, never before it: compiling the
  // harness and starting the zygote would compete with the server's own start for the CPU.
  let prepared: Promise<void> | undefined
  const prepare = () =>
    (prepared ??= Promise.all([
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
        warm = sandbox.warm(harnessPayload(made, limits, harness))
      }
      if (state.sandboxed || config.SANDBOX !== 'required') fillPool()
    }))

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
      return await boxes.spawn(boxLimits(config))
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

  return {
    get ready() {
      return prepare()
    },
    take,
    start,
    stats: () => ({ pool: pool.length, start: warm ? 'zygote' : 'bubblewrap' }),
    close() {
      closed = true
      for (const box of pool.splice(0)) void box.then((waiting) => waiting.release()).catch(() => {})
      warm?.close()
      compiled?.remove() // the sandboxes still running keep their bind mount of the folder
    },
  }
}
