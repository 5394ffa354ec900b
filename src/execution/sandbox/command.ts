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
  /** Extra bwrap arguments placed before the program (e.g. a --bind of a per-run folder). */
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
    // bwrap's own root is an unbounded tmpfs: read-only, so /tmp (size-limited) is the only writable place.
    '--remount-ro', '/',
    '--chdir', '/tmp',
    '--clearenv',
    ...setenv,
    ...extra,
    '--',
    ...program,
  ]
}
