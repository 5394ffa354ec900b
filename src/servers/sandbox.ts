/**
 * The sandbox command of one learner server. A thin stand-in with the same confinement as executions (DESIGN.md,
 * "Execution") until src/execution/sandbox/ exports its argv builder; then this file only adapts to it.
 */
import { readFileSync } from 'node:fs'
import type { Config } from '../config'

/** Where serve.py listens for relayed connections, inside the sandbox's private, size-limited /tmp. */
export const RELAY_SOCKET = '/tmp/.relay.sock'

/**
 * bwrap argv: every namespace unshared (network included: no route out, not even to the host's loopback),
 * /usr read-only, a size-limited /tmp as the only writable place (no host folder is shared; / and /dev are
 * remounted read-only), no capabilities,
 * an unprivileged uid, its own session, and killed with its parent. Spawn it with an empty environment: with
 * --unshare-pid, bwrap's pid 1 inside keeps the environment bwrap itself was given, readable from /proc/1/environ.
 *
 * @example
 * Bun.spawn(sandboxArgv(config, { PORT: '5000' }, ['python3', '-c', src]), { env: {}, detached: true })
 */
export function sandboxArgv(config: Config, env: Record<string, string>, command: string[]): string[] {
  const setenv = Object.entries(env).flatMap(([name, value]) => ['--setenv', name, value])
  return [
    'bwrap', '--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
    '--uid', '65534', '--gid', '65534',
    '--ro-bind', '/usr', '/usr', '--symlink', 'usr/lib', '/lib', '--symlink', 'usr/lib64', '/lib64',
    '--symlink', 'usr/bin', '/bin', '--proc', '/proc', '--dev', '/dev',
    '--size', String(config.EXEC_TMPFS_MB * 1024 * 1024), '--tmpfs', '/tmp', '--chdir', '/tmp',
    // bwrap's root and /dev are tmpfs without a size limit, writable by the sandbox's uid: only /tmp stays so.
    '--remount-ro', '/dev', '--remount-ro', '/',
    '--clearenv', '--setenv', 'PATH', '/usr/bin:/bin', '--setenv', 'HOME', '/tmp', '--setenv', 'LANG', 'C.UTF-8',
    ...setenv,
    ...command,
  ]
}

/**
 * The host path of `path` inside the sandbox whose bwrap has host pid `bwrapPid`, or null while its first
 * process does not exist yet. That process lives in the sandbox's mount namespace, so /proc/<it>/root is the
 * sandbox's root seen from the host (the backend owns that user namespace, so it may look in).
 */
export function hostPathInSandbox(bwrapPid: number, path: string): string | null {
  try {
    const [child] = readFileSync(`/proc/${bwrapPid}/task/${bwrapPid}/children`, 'utf8').trim().split(' ')
    return child ? `/proc/${child}/root${path}` : null
  } catch {
    return null
  }
}
