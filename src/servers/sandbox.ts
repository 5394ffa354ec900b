/**
 * The sandbox command of one learner server. A thin stand-in with the same confinement as executions (DESIGN.md,
 * "Execution") until src/execution/sandbox/ exports its argv builder; then this file only adapts to it.
 */
import type { Config } from '../config'

/** Where the per-server host folder (relay and ready sockets) appears inside the sandbox. */
export const SHARED_DIR = '/run/relay'

export interface SandboxCommand {
  /** The host folder shared read-write with the sandbox at SHARED_DIR; nothing else of the host is writable. */
  sharedDir: string
  /** The whole environment of the program (besides the fixed PATH, HOME and LANG). */
  env: Record<string, string>
  command: string[]
}

/**
 * bwrap argv: every namespace unshared (network included: no route out, not even to the host's loopback),
 * /usr read-only, a size-limited /tmp as the only other writable place, no capabilities, an unprivileged uid,
 * its own session, and killed with its parent. Spawn it with an empty environment: with --unshare-pid, bwrap's
 * pid 1 inside keeps the environment bwrap itself was given, readable from /proc/1/environ.
 *
 * @example
 * Bun.spawn(sandboxArgv(config, { sharedDir, env: { PORT: '5000' }, command: ['python3', '-c', src] }), { env: {} })
 */
export function sandboxArgv(config: Config, { sharedDir, env, command }: SandboxCommand): string[] {
  const setenv = Object.entries(env).flatMap(([name, value]) => ['--setenv', name, value])
  return [
    'bwrap', '--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
    '--uid', '65534', '--gid', '65534',
    '--ro-bind', '/usr', '/usr', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64',
    '--symlink', 'usr/bin', '/bin', '--proc', '/proc', '--dev', '/dev',
    '--size', String(config.EXEC_TMPFS_MB * 1024 * 1024), '--tmpfs', '/tmp',
    '--bind', sharedDir, SHARED_DIR, '--chdir', '/tmp',
    '--clearenv', '--setenv', 'PATH', '/usr/bin:/bin', '--setenv', 'HOME', '/tmp', '--setenv', 'LANG', 'C.UTF-8',
    ...setenv,
    ...command,
  ]
}
