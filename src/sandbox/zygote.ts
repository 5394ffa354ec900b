/**
 * The warm path to a sandbox: one zygote process (zygote.py) that has loaded a payload program once and forks a
 * fresh box per job, instead of bubblewrap starting a new interpreter each time (about 25 ms of CPU per call on a
 * 2-CPU host, bench/breakdown.bench.ts). Each box has the walls of a bubblewrap one (zygote.py says how); the
 * uid and the cgroup come from src/sandbox/index.ts, which hands out both for either path.
 *
 * Needs root: the zygote switches each job to its own uid and mounts its root. src/sandbox/index.ts only offers
 * it when it runs as root with a working sandbox; anywhere else every job starts through bubblewrap.
 *
 * A job's pipes are made by the zygote; the server opens its ends through /proc/<zygote>/fd/N (root may), then
 * tells the zygote to close its copies. So a job's text (code, hidden tests) never passes through the zygote.
 *
 * @example
 * const zygote = await startZygote({ python, payload, seccompFd, logger })
 * const job = await zygote.spawn({ uid, procs, tmpfsBytes, nproc: null, env: {} })
 * await job.write(text)
 * // read job.stdout, job.stderr and job.channel; await job.exited
 */
import { constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from '../logging'
import { closeQuietly } from './seccomp'
import box from './zygote-box.py' with { type: 'text' }
import main from './zygote.py' with { type: 'text' }

/** The zygote's program: the box (constants, the filter, root and identity), then the zygote itself. */
const zygoteSource = `${box}\n${main}`

/** The program a zygote loads once and runs in every box: Python bytecode (src/python/compiled.ts). */
export interface ZygotePayload {
  /** Host path of the .pyc (also its argv[0]). */
  script: string
  /** The rest of its argv. */
  args: string[]
  /** Modules imported once in the zygote, so a job never pays for them. */
  preload: string[]
  /** Host paths every box shows read-only at the same place (e.g. the folder of the payload's bytecode). */
  readOnly: string[]
  /**
   * A function of the payload each job calls, for payloads that support it: the zygote then runs the payload once
   * with `_ZYGOTE` set among its globals (it must only define things then) and each job calls this function.
   * Without it each job runs the whole payload.
   */
  entry?: string
  /** Each job reports the CPU time and page faults of its set-up steps (ZygoteExit.stages); for benchmarks. */
  trace?: boolean
}

export interface ZygoteRequest {
  uid: number
  /** The cgroup.procs file of each hierarchy of the job's cgroup (none without cgroups). */
  procs: string[]
  tmpfsBytes: number
  /** RLIMIT_NPROC of the job's uid, where no pids cgroup counts its processes. */
  nproc: number | null
  env: Record<string, string>
}

/** How a job ended: its exit status, or the signal that killed it. */
export interface ZygoteExit {
  code: number | null
  signal: number | null
  /** CPU time the job used, all its processes together (as far as they were reaped inside it). */
  cpuMs?: number
  /** False when its box could not be built: the payload never started, so nothing of the job ran. */
  built?: boolean
  /** With ZygotePayload.trace: [step, CPU seconds, page faults] after each set-up step, counted from the fork. */
  stages?: [string, number, number][]
}

export interface ZygoteJob {
  /** The job's host pid (it is pid 1 inside its own pid namespace). */
  readonly pid: number
  readonly stdout: ReadableStream<Uint8Array>
  readonly stderr: ReadableStream<Uint8Array>
  /** Our end of the job's fd 3. */
  readonly channel: number
  /** Writes the job's stdin and closes it; false if the job is gone. */
  write(text: string): Promise<boolean>
  readonly exited: Promise<ZygoteExit>
  /** Set once exited resolves. */
  exit(): ZygoteExit | null
  /** SIGKILL to the job: pid 1 of its pid namespace, so every process of its box goes with it. */
  kill(): void
  /** Closes our ends of its pipes (after the streams were read or abandoned). */
  close(): void
}

export interface Zygote {
  readonly pid: number
  spawn(request: ZygoteRequest): Promise<ZygoteJob>
  /** False once the zygote has died or starts no more boxes; a new one must be started. */
  alive(): boolean
  close(): void
}

export interface ZygoteOptions {
  python: string
  payload: ZygotePayload
  /** An fd of the compiled seccomp filter (seccomp.ts), or null; the zygote reads it once. */
  seccompFd: number | null
  logger: Logger
}

type Event =
  | { ready: true; pid: number }
  | { id: number; pid: number; fds: number[] }
  | { id: number; error: string; retire?: boolean }
  | { id: number; exit: number; cpu_ms: number; built: boolean; stages?: [string, number, number][] }
  | { id: number; signal: number; cpu_ms: number; built: boolean; stages?: [string, number, number][] }

/** The zygote starts no more boxes (its template is gone): start the job in a new zygote. */
export class ZygoteRetired extends Error {
  override name = 'ZygoteRetired'
}

interface Pending {
  started?: (event: { pid: number; fds: number[] } | { error: string; retire?: boolean }) => void
  ended?: (exit: ZygoteExit) => void
}

/** Opens one end of a job's pipe through the zygote's fd table; never blocks (the job may already be gone). */
function openEnd(zygotePid: number, fd: number, write: boolean): number | null {
  try {
    return openSync(
      `/proc/${zygotePid}/fd/${fd}`,
      (write ? constants.O_WRONLY : constants.O_RDONLY) | constants.O_NONBLOCK,
    )
  } catch {
    return null // a stdin whose reader is gone (ENXIO): the job ended before it read
  }
}

/** Stage folders of this process's zygotes not yet removed: those of zygotes never closed go at exit. */
const stages = new Set<string>()

/** Removes the stage folder of every zygote still running (the exit hook below, and the test preload). */
export function removeOwnedStages() {
  for (const stage of stages) rmSync(stage, { recursive: true, force: true })
  stages.clear()
}

process.once('exit', removeOwnedStages)

export async function startZygote({ python, payload, seccompFd, logger }: ZygoteOptions): Promise<Zygote> {
  // Empty on the host for as long as the zygote lives: it mounts the boxes' root here in its own mount namespace.
  const stage = mkdtempSync(join(tmpdir(), 'tutor-stage-'))
  stages.add(stage)
  const removeStage = () => {
    stages.delete(stage)
    rmSync(stage, { recursive: true, force: true })
  }
  const settings = JSON.stringify({
    payload: payload.script,
    argv: [payload.script, ...payload.args],
    preload: payload.preload,
    ro: payload.readOnly,
    entry: payload.entry ?? null,
    trace: payload.trace ?? false,
    stage,
  })
  const proc = Bun.spawn([python, '-I', '-S', '-c', zygoteSource, settings], {
    stdio: ['pipe', 'pipe', 'pipe', ...(seccompFd === null ? [] : [seccompFd])],
    env: {},
    cwd: '/',
  })
  const jobs = new Map<number, Pending>()
  let next = 1
  let dead = false
  let retiring = false
  let ready: (pid: number) => void
  let failed: (error: Error) => void
  const started = new Promise<number>((resolve, reject) => {
    ready = resolve
    failed = reject
  })
  const send = (message: object) => {
    proc.stdin.write(`${JSON.stringify(message)}\n`)
    proc.stdin.flush()
  }
  const onEvent = (event: Event) => {
    if ('ready' in event) return ready(event.pid)
    const pending = jobs.get(event.id)
    if (!pending) return
    if ('error' in event && event.retire) retiring = true
    if ('fds' in event || 'error' in event) {
      pending.started?.(event)
      pending.started = undefined
      return
    }
    jobs.delete(event.id)
    const { cpu_ms: cpuMs, built, stages } = event
    pending.ended?.(
      'exit' in event
        ? { code: event.exit, signal: null, cpuMs, built, stages }
        : { code: null, signal: event.signal, cpuMs, built, stages },
    )
  }
  const reading = (async () => {
    let text = ''
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      text += chunk
      const lines = text.split('\n')
      text = lines.pop()!
      for (const line of lines) {
        if (!line) continue
        try {
          onEvent(JSON.parse(line) as Event)
        } catch (error) {
          logger.warn('sandbox zygote: unreadable event', { error: (error as Error).message })
        }
      }
    }
  })()
  const stderr = new Response(proc.stderr).text()
  void proc.exited.then(async (code) => {
    await reading.catch(() => {}) // its last events first: a job it reaped before leaving ended as it says
    dead = true
    removeStage()
    failed(new Error(`the zygote ended (${code}): ${(await stderr).trim().split('\n').pop()}`))
    // Every job still running was the zygote's child: they are killed with it (PR_SET_PDEATHSIG).
    for (const pending of jobs.values()) {
      pending.started?.({ error: 'the zygote ended' })
      pending.ended?.({ code: null, signal: 9 })
    }
    jobs.clear()
    if (code !== 0 || !retiring) logger.warn('sandbox zygote ended', { code, error: (await stderr).trim().slice(-500) })
  })
  const zygotePid = await started

  async function spawn(request: ZygoteRequest): Promise<ZygoteJob> {
    if (dead) throw new Error('the zygote has ended')
    const id = next++
    const pending: Pending = {}
    const exited = new Promise<ZygoteExit>((resolve) => {
      pending.ended = resolve
    })
    const reply = await new Promise<{ pid: number; fds: number[] } | { error: string; retire?: boolean }>((resolve) => {
      pending.started = resolve
      jobs.set(id, pending)
      send({
        op: 'spawn',
        id,
        uid: request.uid,
        procs: request.procs,
        tmpfs: request.tmpfsBytes,
        nproc: request.nproc,
        env: request.env,
      })
    })
    if ('error' in reply) {
      jobs.delete(id)
      if (reply.retire) throw new ZygoteRetired(reply.error)
      throw new Error(`the zygote could not start a box: ${reply.error}`)
    }
    const [stdinFd = null, stdoutFd = null, stderrFd = null, channelFd = null] = reply.fds.map((fd, i) =>
      openEnd(zygotePid, fd, i === 0),
    )
    send({ op: 'opened', id })
    let ended: ZygoteExit | null = null
    void exited.then((exit) => {
      ended = exit
    })
    const stream = (fd: number | null) => (fd === null ? new Response('').body! : Bun.file(fd).stream())
    const channel = channelFd ?? openSync('/dev/null', 'r')
    return {
      pid: reply.pid,
      stdout: stream(stdoutFd),
      stderr: stream(stderrFd),
      channel,
      exited,
      exit: () => ended,
      async write(text) {
        if (stdinFd === null) return false
        try {
          // Most jobs fit the pipe's buffer: one write, no stream. The rest goes through a sink as the job reads.
          const bytes = Buffer.from(text)
          let written = 0
          try {
            written = writeSync(stdinFd, bytes)
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error
          }
          if (written < bytes.length) {
            const sink = Bun.file(stdinFd).writer()
            await sink.write(bytes.subarray(written))
            await sink.end()
          }
          return true
        } catch {
          return false // the job died before reading it all: its exit says how
        } finally {
          closeQuietly(stdinFd) // a Bun sink never closes a descriptor it did not open
        }
      },
      kill() {
        if (ended) return
        try {
          process.kill(reply.pid, 'SIGKILL')
        } catch {
          // already gone
        }
      },
      close() {
        for (const fd of [stdoutFd, stderrFd, channel]) closeQuietly(fd)
      },
    }
  }

  return {
    pid: zygotePid,
    spawn,
    alive: () => !dead && !retiring,
    close() {
      dead = true
      try {
        proc.kill('SIGKILL')
      } catch {
        // already gone
      }
    },
  }
}
