/**
 * One sandbox for every untrusted program (executions and Python servers alike): the bubblewrap command, the
 * seccomp filter, the host uid, the per-sandbox cgroup, the probes, the environment and the process-group kill
 * live here, so every hardening applies to both features. A feature asks for a confined process and gets one
 * back with a single way to end it. Limits a caller does not name come from the configuration (limits.ts).
 *
 * @example
 * const sandbox = createSandbox({ config, logger })
 * const { usable } = await sandbox.ready()
 * const box = sandbox.spawn([config.PYTHON_BIN, '-I', '-S', '-c', src], { memoryBytes: 256 << 20, fds: 1 })
 * box.proc.stdin.end(job)
 * await box.proc.exited
 * box.release() // kills whatever is left, removes its cgroup
 */
import type { SandboxLimitSettings } from './limits'
import { AppError } from '../errors'
import type { Logger } from '../logging'
import { pending, warmingUp, type HealthReport, type Service } from '../services'
import { dropRootPrefix, runsAsRoot, sandboxArgv } from './argv'
import { noCgroups, probeCgroups, type SandboxCgroups } from './cgroup'
import { confine } from './confine'
import { probeAll, probePython, type PythonProbe, type SandboxProbe } from './probe'
import { closeQuietly, hostSeccompFilter, type SeccompFilter } from './seccomp'
import { createUidRange, uidRangeSize, type UidRange } from './uids'
import { limitsReport, sandboxCpus, sandboxProcessLimit } from './limits'
import { createWarmBoxes, type WarmBoxes } from './warm'
import type { ZygotePayload } from './zygote'

/** The settings this module reads (src/config.ts documents each). */
export interface SandboxSettings extends SandboxLimitSettings {
  EXEC_CONCURRENCY: number
  EXEC_ZYGOTE: boolean
  PYTHON_BIN: string
  SANDBOX: 'auto' | 'required' | 'off'
  SANDBOX_UID_BASE: number
  EXEC_POOL_SIZE: number
  SERVERS_MAX: number
  BROWSER_CONCURRENCY: number
}

export { sandboxCpus, sandboxMemoryBytes, sandboxProcessLimit, type SandboxLimitSettings } from './limits'

export type { PythonProbe, SandboxProbe } from './probe'
export { type BoxedJob, type WarmBoxes, WarmUnavailable } from './warm'
export type { ZygotePayload } from './zygote'

type Proc = Bun.Subprocess<'pipe', 'pipe', 'pipe'>

export interface SpawnOptions {
  /** Memory of the whole sandbox (every process and its /tmp together); enforced where cgroups are writable. */
  memoryBytes: number
  /** Processes and threads of the whole sandbox; default sandboxProcessLimit(config). */
  processes?: number
  /** CPU time of the whole sandbox, in CPUs; default EXEC_CPUS, else EXEC_TEST_PARALLELISM. */
  cpus?: number
  /** Extra variables for the program (e.g. PORT); the rest of its environment is fixed. */
  env?: Record<string, string>
  /** Extra pipes after stdin/stdout/stderr (fd 3, 4, …), read and written by the caller. */
  fds?: number
  /** Host paths shown read-only at the same place inside (e.g. /etc/fonts for a browser); /usr always is. */
  readOnly?: string[]
  /** Size of the private /tmp; default EXEC_TMPFS_MB. */
  tmpfsBytes?: number
}

/** One confined process: bwrap (or, without it, the bare program) as the leader of its own process group. */
export interface Boxed {
  readonly proc: Proc
  readonly sandboxed: boolean
  /** The host uid the sandbox runs as (its own when we are root; see uids.ts). */
  readonly uid: number
  /** True once the kernel killed a process of this sandbox for memory. */
  oomKilled(): boolean
  /** Memory the whole sandbox uses now, in bytes; null without a memory cgroup (nothing counts it then). */
  memoryUsed(): number | null
  /** SIGKILL to the whole process group and to everything left in the cgroup. */
  kill(): void
  /**
   * kill(), then the cgroup is removed and the uid given back once its processes are reaped. Resolves then (no
   * process of the sandbox is left). Safe to call more than once.
   */
  release(): Promise<void>
}

export interface SandboxState {
  /** Whether learner code runs inside bubblewrap. */
  sandboxed: boolean
  python: PythonProbe
  probe: SandboxProbe
  cgroups: SandboxCgroups
}

export interface Sandbox extends Service {
  /** The probes (run once, on first ask). */
  ready(): Promise<SandboxState>
  /**
   * Throws the 503 a feature must answer when code cannot run here: no Python (looked for once more first: the
   * start-up probe may have failed on a busy machine), or SANDBOX=required without bubblewrap.
   */
  requireUsable(): Promise<SandboxState>
  /** Starts `program` confined; call after ready(). */
  spawn(program: string[], options: SpawnOptions): Boxed
  /**
   * Jobs forked from a warm `payload` (warm.ts), or null where that path is not available: not root (each job
   * needs a uid of its own), no bubblewrap sandbox, no seccomp filter for this architecture, or EXEC_ZYGOTE=false.
   * Call after ready().
   */
  warm(payload: ZygotePayload): WarmBoxes | null
}

export interface SandboxOptions {
  config: SandboxSettings
  logger: Logger
  /** Replaces the real probes (tests of the unsandboxed modes). */
  probes?: () => Promise<[PythonProbe, SandboxProbe]>
  /** false: behave as on a host without writable cgroups (tests of the limits that hold there). */
  cgroups?: boolean
}

/** SIGKILL to a process group; the leader alone if the group is already gone. */
export function killGroup(proc: Bun.Subprocess) {
  try {
    process.kill(-proc.pid, 'SIGKILL')
  } catch {
    try {
      proc.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
}

/**
 * Writes `text` to a sandboxed program's stdin and closes it. A program that died before reading (killed, out of
 * memory, a broken harness) makes the write fail with EPIPE once the text is larger than the pipe buffer; that is
 * the program's outcome, read from its exit, not an error of ours, so the rejection is absorbed here instead of
 * ending the server as an unhandled one.
 */
export async function writeInput(proc: Proc, text: string): Promise<boolean> {
  try {
    await proc.stdin.write(text)
    await proc.stdin.end()
    return true
  } catch {
    return false
  }
}

/** The uid every sandbox shared before uids.ts; still used when the range runs dry. */
const NOBODY = 65534

/** The fixed environment of an unsandboxed program (bwrap sets the same inside a sandbox). */
const BARE_ENV = { PATH: '/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8' }

export function createSandbox({ config, logger, probes, cgroups: useCgroups = true }: SandboxOptions): Sandbox {
  // As root, a uid of its own per sandbox; otherwise every sandbox runs as our own uid.
  const uids: UidRange | null = runsAsRoot()
    ? createUidRange(config.SANDBOX_UID_BASE, uidRangeSize(config), NOBODY)
    : null
  const ownUid = process.getuid?.() ?? NOBODY
  const processLimit = sandboxProcessLimit(config)
  /**
   * The command prefix that starts a sandbox as `uid`. Its processes are counted outside its reach by the
   * cgroup's pids.max where there is one, else by RLIMIT_NPROC on its uid (never on the shared overflow uid).
   */
  const asUser = (uid: number, pidsCgroup: boolean, limit = processLimit) =>
    uids ? dropRootPrefix(uid, uid === NOBODY || pidsCgroup ? null : limit) : []
  let seccomp: SeccompFilter | null | undefined
  const live = new Set<Boxed>()
  let state: Promise<SandboxState> | undefined
  let current: SandboxState | undefined
  let closed = false

  async function probe(): Promise<SandboxState> {
    seccomp = config.SANDBOX === 'off' ? null : hostSeccompFilter()
    const trialUid = uids?.take() ?? ownUid
    const [[python, sandbox], cgroups] = await Promise.all([
      probes ? probes() : probeAll(config.PYTHON_BIN, asUser(trialUid, false), seccomp),
      // Under contention all sandboxes together weigh as much as EXEC_CONCURRENCY ordinary processes (cgroup.ts).
      useCgroups
        ? probeCgroups(undefined, undefined, { cpuWeight: config.EXEC_CONCURRENCY })
        : noCgroups('cgroups switched off for this sandbox service'),
    ]).finally(() => uids?.give(trialUid))
    if (closed) void cgroups.close()
    if (cgroups.kind === 'none')
      logger.warn('no cgroups: a sandbox is limited per process only', { reason: cgroups.reason })
    if (!seccomp && config.SANDBOX !== 'off')
      logger.warn('no seccomp filter for this architecture', { arch: process.arch })
    const sandboxed = config.SANDBOX !== 'off' && sandbox.available
    if (!sandboxed) {
      logger.warn('LEARNER CODE RUNS WITHOUT A SANDBOX: only rlimits and an empty environment protect this host', {
        reason: config.SANDBOX === 'off' ? 'SANDBOX=off' : sandbox.reason,
        refuses: config.SANDBOX === 'required',
      })
    }
    current = { sandboxed, python, probe: sandbox, cgroups }
    return current
  }

  const ready = () => (state ??= probe())

  function spawn(program: string[], options: SpawnOptions): Boxed {
    const {
      memoryBytes,
      processes = processLimit,
      cpus = sandboxCpus(config),
      env = {},
      fds = 0,
      readOnly = [],
    } = options
    if (!current) throw new Error('sandbox.spawn() before ready()')
    const { sandboxed, cgroups } = current
    const tmpfsBytes = options.tmpfsBytes ?? config.EXEC_TMPFS_MB * 1024 * 1024
    const extra = readOnly.flatMap((path) => ['--ro-bind', path, path])
    const held = confine({ uids, ownUid, cgroups, logger }, { memoryBytes, pids: processes, cpus })
    const { uid, group } = held
    // The filter goes in as the child's first fd after the caller's pipes; bwrap reads and closes it.
    const filterFd = sandboxed && seccomp ? seccomp.open() : null
    const seccompFd = filterFd === null ? undefined : 3 + fds
    const disableUserns = current.probe.disables_userns ?? true
    const boxedArgv = sandboxed ? sandboxArgv(program, { tmpfsBytes, env, extra, seccompFd, disableUserns }) : program
    const cmd = [...asUser(uid, held.pidsCounted, processes), ...boxedArgv]
    if (group) cmd[0] = Bun.which(cmd[0]!) ?? cmd[0]! // the joining shell has no PATH
    const pipes = Array.from({ length: fds }, () => 'pipe' as const)
    let proc: Proc
    try {
      // bwrap gets an empty environment: its pid 1 inside the sandbox keeps it, readable in /proc/1/environ.
      proc = Bun.spawn(group ? group.wrap(cmd) : cmd, {
        stdio: ['pipe', 'pipe', 'pipe', ...pipes, ...(filterFd === null ? [] : [filterFd])],
        env: sandboxed ? {} : { ...BARE_ENV, ...env },
        cwd: '/tmp',
        detached: true,
      }) as Proc
    } catch (error) {
      held.release(Promise.resolve()) // nothing started
      throw error
    } finally {
      if (filterFd !== null) closeQuietly(filterFd) // the child has its own copy
    }
    let released: Promise<void> | undefined
    const boxed: Boxed = {
      proc,
      sandboxed,
      uid,
      oomKilled: () => group?.oomKilled() ?? false,
      memoryUsed: () => group?.memoryUsed() ?? null,
      kill() {
        killGroup(proc)
        group?.kill()
      },
      release() {
        if (released) return released
        live.delete(boxed)
        killGroup(proc)
        // bwrap's pid namespace goes with it
        released = held.release(proc.exited).then(() => {})
        return released
      },
    }
    live.add(boxed)
    return boxed
  }

  function warm(payload: ZygotePayload): WarmBoxes | null {
    if (!current) throw new Error('sandbox.warm() before ready()')
    if (!config.EXEC_ZYGOTE || !current.sandboxed || !uids || !seccomp || closed) return null
    const boxes = createWarmBoxes({
      python: config.PYTHON_BIN,
      payload,
      seccomp,
      holdings: { uids, ownUid, cgroups: current.cgroups, logger },
      logger,
    })
    warmed.add(boxes)
    return boxes
  }
  const warmed = new Set<WarmBoxes>()

  return {
    ready,
    warm,
    async requireUsable() {
      const now = await ready()
      if (!now.python.found) {
        // Our fault, not the learner's: a 503, never a "program ended without a result".
        now.python = await probePython(config.PYTHON_BIN)
        if (!now.python.found) {
          throw new AppError(
            'python_unavailable',
            503,
            'Python is not available on this server; the operator must fix PYTHON_BIN',
          )
        }
      }
      if (!now.sandboxed && config.SANDBOX === 'required') {
        throw new AppError('sandbox_unavailable', 503, 'The sandbox is required but bubblewrap is not available here')
      }
      if (closed) throw new AppError('sandbox_unavailable', 503, 'The sandbox is shutting down')
      return now
    },
    spawn,
    warmUp: () => ready().then(() => {}),
    async health(): Promise<Record<string, HealthReport>> {
      if (pending(ready())) return warmingUp('python', 'sandbox')
      const { python, probe, sandboxed, cgroups } = await ready()
      const refuses = !sandboxed && config.SANDBOX === 'required'
      return {
        python: { ok: python.found, ...python },
        sandbox: {
          ok: probe.available || config.SANDBOX === 'off',
          mode: config.SANDBOX,
          ...probe,
          ...(sandboxed
            ? {}
            : { warning: refuses ? 'refusing to run code: no sandbox' : 'learner code runs without a sandbox' }),
          ...limitsReport({
            config,
            cgroups,
            sandboxed,
            seccomp: seccomp ?? null,
            uids,
            ownUid,
            disablesUserns: probe.disables_userns ?? false,
          }),
        },
      }
    },
    async close() {
      closed = true
      for (const boxes of warmed) boxes.close()
      const boxes = [...live]
      for (const box of boxes) box.release()
      await Promise.all(boxes.map((box) => box.proc.exited))
      current?.cgroups.close()
    },
  }
}
