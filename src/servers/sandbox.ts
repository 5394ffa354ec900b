/**
 * Where a learner server's relay socket is, seen from the host.
 */
import { readFileSync } from 'node:fs'

/** Where serve.py listens for relayed connections, inside the sandbox's private, size-limited /tmp. */
export const RELAY_SOCKET = '/tmp/.relay.sock'

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
