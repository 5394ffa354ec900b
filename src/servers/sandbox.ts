/**
 * The sandbox command of one learner server: the same confinement as executions, plus PORT.
 */
import { readFileSync } from 'node:fs'
import type { Config } from '../config'
import { dropRootPrefix, sandboxArgv as confine } from '../execution/sandbox/command'

/** Where serve.py listens for relayed connections, inside the sandbox's private, size-limited /tmp. */
export const RELAY_SOCKET = '/tmp/.relay.sock'

/**
 * The execution sandbox (src/execution/sandbox/command.ts) with PORT added, started as nobody when we are root
 * so that the process limit applies (see dropRootPrefix). Nothing of the host is shared: the relay socket lives
 * in the sandbox's own /tmp and is reached through /proc (hostPathInSandbox).
 *
 * @example
 * Bun.spawn(sandboxArgv(config, { PORT: '5000' }, ['python3', '-c', src]), { env: {}, detached: true })
 */
export function sandboxArgv(config: Config, env: Record<string, string>, command: string[]): string[] {
  return [...dropRootPrefix(), ...confine(command, { tmpfsBytes: config.EXEC_TMPFS_MB * 1024 * 1024, env })]
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
