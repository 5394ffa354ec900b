/**
 * What every sandbox holds on the host, whichever way it starts (bubblewrap in ./index.ts, forked from the zygote
 * in ./warm.ts): a host uid of its own (./uids.ts; our own uid when we are not root) and a cgroup with its limits
 * (./cgroup.ts; none where cgroups are not writable). Both are given back once no process of the sandbox is left.
 *
 * @example
 * const held = confine({ uids, ownUid, cgroups, logger }, { memoryBytes, pids: 66, cpus: 2 })
 * // start the sandbox as held.uid, in held.group
 * held.release(proc.exited) // the group removed and the uid freed once the sandbox is gone
 */
import type { Logger } from '../logging'
import type { CgroupLimits, SandboxCgroup, SandboxCgroups } from './cgroup'
import type { UidRange } from './uids'

export interface Held {
  readonly uid: number
  readonly group: SandboxCgroup | null
  /** Whether the group's pids.max counts the sandbox's processes (else RLIMIT_NPROC on its uid must). */
  readonly pidsCounted: boolean
  /**
   * Once `exited` (the sandbox's first process reaped): the group removed when empty, then the uid given back.
   * The uid is free once no process of it is left: the group is empty and gone, or, without a group, its first
   * process is gone (its pid namespace goes with it; reuse is last-released-last, see uids.ts). Resolves once no
   * process of the sandbox is left (true), or when that could not be made sure of (false).
   */
  release(exited: Promise<unknown>): Promise<boolean>
}

export interface Holdings {
  /** Null when we are not root: every sandbox runs as `ownUid`. */
  uids: UidRange | null
  ownUid: number
  cgroups: SandboxCgroups
  logger: Logger
}

export function confine({ uids, ownUid, cgroups, logger }: Holdings, limits: CgroupLimits): Held {
  const uid = uids?.take() ?? ownUid
  const group = cgroups.create(limits)
  if (cgroups.kind !== 'none' && !group)
    logger.warn('could not create a cgroup; this sandbox is limited per process only')
  return {
    uid,
    group,
    pidsCounted: group !== null && cgroups.controllers.includes('pids'),
    release(exited) {
      const empty = group ? group.remove(exited) : exited.then(() => true)
      return empty.then((ok) => {
        if (ok) uids?.give(uid)
        return ok
      })
    },
  }
}
