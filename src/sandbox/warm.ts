/**
 * Warm boxes: jobs started by forking the zygote (zygote.ts) instead of starting bubblewrap and an interpreter.
 * The job gets what a bubblewrap sandbox gets (./confine.ts, ./index.ts): its own host uid (given back once its
 * cgroup is empty), its own memory/pids/CPU cgroup, RLIMIT_NPROC on that uid where no pids cgroup counts its
 * processes, the seccomp filter. The zygote is started on first use and again after it died.
 */
import type { Logger } from '../logging'
import { confine, type Holdings } from './confine'
import type { SeccompFilter } from './seccomp'
import { closeQuietly } from './seccomp'
import { startZygote, type Zygote, type ZygoteJob, type ZygotePayload, ZygoteRetired } from './zygote'

/** A confined job as a runner drives it, whichever way it was started. */
export interface BoxedJob {
  readonly stdout: ReadableStream<Uint8Array>
  readonly stderr: ReadableStream<Uint8Array>
  /** Our end of the job's fd 3. Closed by release(). */
  readonly channel: number
  /** Writes the job's stdin and closes it; false when the job was gone before it read everything. */
  write(text: string): Promise<boolean>
  readonly exited: Promise<unknown>
  /** After exited: the exit status (128 + N for a signal inside), or the signal that ended it. */
  status(): { code: number | null; signal: string | number | null }
  /** True until the job ended. */
  running(): boolean
  /** After exited: true when the box ended before its program started, so nothing of a job ran in it. */
  unstarted(): boolean
  oomKilled(): boolean
  kill(): void
  /** kill(), our ends closed, the cgroup removed and the uid given back once nothing of it is left. */
  release(): void
}

/** The zygote could not start at all (too old a kernel, a broken payload): every job must use the other path. */
export class WarmUnavailable extends Error {
  override name = 'WarmUnavailable'
}

export interface WarmLimits {
  memoryBytes: number
  processes: number
  cpus: number
  tmpfsBytes: number
  env: Record<string, string>
}

export interface WarmBoxes {
  spawn(limits: WarmLimits): Promise<BoxedJob>
  close(): void
}

export interface WarmOptions {
  python: string
  payload: ZygotePayload
  seccomp: SeccompFilter | null
  /** Where each box's uid and cgroup come from (./confine.ts). */
  holdings: Holdings
  logger: Logger
}

/**
 * Whether a job's process still runs. The zygote reaps it and tells us a moment later; a box killed while it
 * waited must not get a job in that moment (it would be reported as crashed). Once reaped its pid is gone.
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export function createWarmBoxes({ python, payload, seccomp, holdings, logger }: WarmOptions): WarmBoxes {
  let zygote: Promise<Zygote> | undefined
  let broken: WarmUnavailable | undefined
  /** Every zygote started: a retired one serves its last jobs while the next one starts new ones. */
  const zygotes = new Set<Zygote>()
  let closed = false
  const live = new Set<BoxedJob>()

  /** The running zygote; a new one after it died. One that never got ready will not, and ends the warm path. */
  function current(): Promise<Zygote> {
    if (broken) return Promise.reject(broken)
    const made = zygote
    if (!made) return restart()
    // Two jobs that find the same zygote dead (or retired) at once start one new zygote, not one each.
    return made.then((z) => (z.alive() ? z : zygote === made ? restart() : current()))
  }

  function restart(): Promise<Zygote> {
    const filterFd = seccomp ? seccomp.open() : null
    const started = startZygote({ python, payload, seccompFd: filterFd, logger })
    void started.then((z) => zygotes.add(z)).catch(() => {})
    started.catch((error: Error) => {
      broken = new WarmUnavailable(error.message)
    })
    zygote = started.finally(() => closeQuietly(filterFd))
    return zygote
  }

  async function spawn(limits: WarmLimits): Promise<BoxedJob> {
    const z = await current()
    try {
      return await spawnIn(z, limits)
    } catch (error) {
      if (!(error instanceof ZygoteRetired)) throw error
      return spawnIn(await current(), limits) // a new zygote, with a new template
    }
  }

  async function spawnIn(z: Zygote, limits: WarmLimits): Promise<BoxedJob> {
    const held = confine(holdings, { memoryBytes: limits.memoryBytes, pids: limits.processes, cpus: limits.cpus })
    const { uid, group } = held
    let job: ZygoteJob
    try {
      job = await z.spawn({
        uid,
        procs: group?.procs ?? [],
        tmpfsBytes: limits.tmpfsBytes,
        nproc: held.pidsCounted ? null : limits.processes,
        env: limits.env,
      })
    } catch (error) {
      held.release(Promise.resolve()) // no box was started
      throw error
    }
    let released = false
    const boxed: BoxedJob = {
      stdout: job.stdout,
      stderr: job.stderr,
      channel: job.channel,
      write: (text) => job.write(text),
      exited: job.exited,
      status() {
        const exit = job.exit()
        return { code: exit?.code ?? null, signal: exit?.signal ?? null }
      },
      running: () => job.exit() === null && alive(job.pid),
      unstarted: () => job.exit()?.built === false,
      oomKilled: () => group?.oomKilled() ?? false,
      kill() {
        job.kill()
        group?.kill()
      },
      release() {
        if (released) return
        released = true
        live.delete(boxed)
        job.kill() // pid 1 of its pid namespace: every process of the box goes with it
        // Our ends are closed once the job is reaped: its streams are done with them by then.
        held.release(job.exited.then(() => job.close()))
      },
    }
    live.add(boxed)
    if (closed) boxed.release()
    return boxed
  }

  return {
    spawn,
    close() {
      closed = true
      for (const job of [...live]) job.release()
      for (const z of zygotes) z.close()
      void zygote?.then((z) => z.close()).catch(() => {})
    },
  }
}
