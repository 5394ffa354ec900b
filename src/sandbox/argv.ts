import { readFileSync } from 'node:fs'

/**
 * The bubblewrap command line for one sandbox: every namespace unshared (no network,
 * own pid namespace), only /usr read-only plus the usual symlinks, a private size-limited tmpfs at /tmp as the
 * only writable place, nothing of the project folder or of /root, an empty environment except PATH/HOME/LANG,
 * uid/gid 65534 inside, no capabilities, no nested user namespaces, a fixed host name, the seccomp filter of
 * seccomp.ts, killed with its parent, its own session.
 * Spawn bwrap itself with `env: {}`: its pid 1 inside keeps the environment it was given (/proc/1/environ).
 *
 * @example
 * Bun.spawn(sandboxArgv(['/usr/bin/python3', '-I', '-S', '-c', src], { tmpfsBytes: 16 << 20, seccompFd: 3 }), {
 *   env: {},
 *   stdio: ['pipe', 'pipe', 'pipe', filter.open()],
 * })
 */
export interface SandboxOptions {
  tmpfsBytes: number
  /** Extra variables for the sandboxed program (e.g. PORT). */
  env?: Record<string, string>
  /** Extra bwrap mount arguments (e.g. a --bind of a per-run folder), applied before / is made read-only. */
  extra?: string[]
  /** The child's fd number of the compiled seccomp filter (seccomp.ts); bwrap reads and closes it. */
  seccompFd?: number
  /** --disable-userns (bubblewrap 0.8.0+; default true). Older ones rely on the seccomp filter alone. */
  disableUserns?: boolean
}

/** What learner code sees as the machine's name (uname, /proc/sys/kernel/hostname): nothing of the host. */
export const SANDBOX_HOSTNAME = 'sandbox'

export function sandboxArgv(
  program: string[],
  { tmpfsBytes, env = {}, extra = [], seccompFd, disableUserns = true }: SandboxOptions,
): string[] {
  const setenv = Object.entries({ PATH: '/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8', ...env }).flatMap(
    ([key, value]) => ['--setenv', key, value],
  )
  return [
    'bwrap',
    '--unshare-all',
    // A user namespace of its own (required by --disable-userns), in which the program may not make another:
    // a nested one would give it every capability inside, and with them mounts and raw sockets.
    ...(disableUserns ? ['--unshare-user', '--disable-userns'] : []),
    '--hostname',
    SANDBOX_HOSTNAME,
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--uid',
    '65534',
    '--gid',
    '65534',
    '--ro-bind',
    '/usr',
    '/usr',
    '--symlink',
    'usr/lib',
    '/lib',
    '--symlink',
    'usr/lib64',
    '/lib64',
    '--symlink',
    'usr/bin',
    '/bin',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--size',
    String(tmpfsBytes),
    '--tmpfs',
    '/tmp',
    ...extra, // before the root turns read-only: a --bind needs its mount point created
    // bwrap's own root is an unbounded tmpfs: read-only, so /tmp (size-limited) is the only writable place.
    '--remount-ro',
    '/',
    '--remount-ro',
    '/dev',
    '--chdir',
    '/tmp',
    '--clearenv',
    ...setenv,
    ...(seccompFd === undefined ? [] : ['--seccomp', String(seccompFd)]),
    '--',
    ...program,
  ]
}

/**
 * As root, bwrap maps the sandbox uid to host root, and the kernel exempts host root from RLIMIT_NPROC (a fork
 * bomb would be bounded by nothing but the clock). So a root server starts each sandbox as its own unprivileged
 * host uid (uids.ts); prefix the bwrap argv with this. `maxProcesses` also sets RLIMIT_NPROC on that uid, which
 * the host counts outside anything learner code can reach (for hosts without a pids cgroup: one more exec).
 * Empty when we are not root (the sandbox runs as our own uid) or when util-linux is missing.
 */
export function dropRootPrefix(uid: number, maxProcesses: number | null): string[] {
  const { setpriv, prlimit, ownHardLimit } = (tools ??= findTools())
  if (!setpriv || process.getuid?.() !== 0) return []
  // Raising a hard limit needs CAP_SYS_RESOURCE, which a container's root may lack: never ask for more than ours.
  const nproc = Math.min(maxProcesses ?? 0, ownHardLimit)
  const limit = maxProcesses !== null && prlimit ? [prlimit, `--nproc=${nproc}:${nproc}`, '--'] : []
  return [...limit, setpriv, '--reuid', String(uid), '--regid', String(uid), '--clear-groups']
}

/** Whether sandboxes can get a uid of their own (only root may switch to another uid). */
export const runsAsRoot = () => process.getuid?.() === 0 && (tools ??= findTools()).setpriv !== null

/** Looked up once: a sandbox starts on every request that finds the pool empty. */
let tools: { setpriv: string | null; prlimit: string | null; ownHardLimit: number } | undefined

function findTools() {
  return { setpriv: Bun.which('setpriv'), prlimit: Bun.which('prlimit'), ownHardLimit: ownProcessLimit() }
}

/** Our own hard RLIMIT_NPROC, from /proc/self/limits (Infinity when unlimited or unreadable). */
function ownProcessLimit(): number {
  try {
    const line = /^Max processes\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return line && line[1] !== 'unlimited' ? Number(line[1]) : Infinity
  } catch {
    return Infinity
  }
}
