/**
 * The bubblewrap command line for one sandbox (DESIGN.md, "Execution"): every namespace unshared (no network,
 * own pid namespace), only /usr read-only plus the usual symlinks, a private size-limited tmpfs at /tmp as the
 * only writable place, nothing of the project folder or of /root, an empty environment except PATH/HOME/LANG,
 * uid/gid 65534, no capabilities, killed with its parent, its own session.
 * Spawn bwrap itself with `env: {}`: its pid 1 inside keeps the environment it was given (/proc/1/environ).
 *
 * @example
 * Bun.spawn(sandboxArgv(['/usr/bin/python3', '-I', '-S', '-c', src], { tmpfsBytes: 16 << 20 }), { env: {} })
 */
export interface SandboxOptions {
  tmpfsBytes: number
  /** Extra variables for the sandboxed program (e.g. PORT). */
  env?: Record<string, string>
  /** Extra bwrap mount arguments (e.g. a --bind of a per-run folder), applied before / is made read-only. */
  extra?: string[]
}

export function sandboxArgv(program: string[], { tmpfsBytes, env = {}, extra = [] }: SandboxOptions): string[] {
  const setenv = Object.entries({ PATH: '/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8', ...env }).flatMap(
    ([key, value]) => ['--setenv', key, value],
  )
  return [
    'bwrap',
    '--unshare-all',
    '--die-with-parent',
    '--new-session',
    '--cap-drop', 'ALL',
    '--uid', '65534',
    '--gid', '65534',
    '--ro-bind', '/usr', '/usr',
    '--symlink', 'usr/lib', '/lib',
    '--symlink', 'usr/lib64', '/lib64',
    '--symlink', 'usr/bin', '/bin',
    '--proc', '/proc',
    '--dev', '/dev',
    '--size', String(tmpfsBytes),
    '--tmpfs', '/tmp',
    ...extra, // before the root turns read-only: a --bind needs its mount point created
    // bwrap's own root is an unbounded tmpfs: read-only, so /tmp (size-limited) is the only writable place.
    '--remount-ro', '/',
    '--remount-ro', '/dev',
    '--chdir', '/tmp',
    '--clearenv',
    ...setenv,
    '--',
    ...program,
  ]
}

/**
 * As root, bwrap maps the sandbox uid to host root, and the kernel exempts host root from RLIMIT_NPROC (a fork
 * bomb would be bounded by nothing but the clock). So a root server starts the sandbox as nobody (65534);
 * prefix the bwrap argv with this.
 */
export function dropRootPrefix(): string[] {
  const setpriv = Bun.which('setpriv')
  if (process.getuid?.() !== 0 || !setpriv) return []
  return [setpriv, '--reuid', '65534', '--regid', '65534', '--clear-groups']
}
