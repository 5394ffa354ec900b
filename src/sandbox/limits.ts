/**
 * The limits of a whole sandbox, from the configuration, and what /health says about which of them apply here.
 */
import { SANDBOX_HOSTNAME } from './argv'
import type { SandboxCgroups } from './cgroup'
import { DENIED, type SeccompFilter } from './seccomp'
import type { UidRange } from './uids'

/** The settings this module reads (src/config.ts documents each). */
export interface SandboxLimitSettings {
  EXEC_CPUS: number | undefined
  EXEC_MAX_PROCESSES: number
  EXEC_MEMORY_MB: number
  EXEC_TEST_PARALLELISM: number
  EXEC_TMPFS_MB: number
}

/**
 * Memory of a whole sandbox (cgroup): all its processes and its /tmp together. RLIMIT_AS bounds each process,
 * and a batch legitimately runs EXEC_TEST_PARALLELISM cases at once next to the harness.
 */
export function sandboxMemoryBytes(config: SandboxLimitSettings): number {
  return (config.EXEC_MEMORY_MB * (config.EXEC_TEST_PARALLELISM + 1) + config.EXEC_TMPFS_MB) * 1024 * 1024
}

/**
 * Processes and threads of a whole sandbox: what the program may start plus bwrap's own two (the one we spawn
 * and pid 1 of the sandbox). Counted by the cgroup (pids.max) and, as root, on the sandbox's host uid.
 */
export function sandboxProcessLimit(config: SandboxLimitSettings): number {
  return config.EXEC_MAX_PROCESSES + 2
}

/** CPUs' worth of time one sandbox may use: enough for a batch's parallel cases, never what learner code asks. */
export function sandboxCpus(config: SandboxLimitSettings): number {
  return config.EXEC_CPUS ?? config.EXEC_TEST_PARALLELISM
}

export interface LimitsFacts {
  config: SandboxLimitSettings
  cgroups: SandboxCgroups
  sandboxed: boolean
  seccomp: SeccompFilter | null
  /** The range sandboxes take their uids from; null when they all run as `ownUid`. */
  uids: UidRange | null
  ownUid: number
  /** bubblewrap's --disable-userns is in force (next to the seccomp filter). */
  disablesUserns: boolean
}

/** Which limit holds each resource here, for /health: a deployment sees at once what it is missing. */
export function limitsReport({ config, cgroups, sandboxed, seccomp, uids, ownUid, disablesUserns }: LimitsFacts) {
  const has = (controller: 'pids' | 'cpu') => cgroups.controllers.includes(controller)
  return {
    memory:
      cgroups.kind === 'none'
        ? { limit: 'per process', reason: cgroups.reason }
        : { limit: 'per sandbox', cgroup: cgroups.kind, sandbox_mb: sandboxMemoryBytes(config) >> 20 },
    processes: {
      max: sandboxProcessLimit(config),
      // Outside the sandbox: its cgroup, else (as root) RLIMIT_NPROC on its own uid; inside: the harness's rlimit.
      counted_by: [
        has('pids') ? 'cgroup pids.max' : uids ? 'RLIMIT_NPROC of its host uid' : null,
        'rlimit per process',
      ].filter(Boolean),
    },
    cpu: has('cpu')
      ? { limit: 'per sandbox', cgroup: cgroups.kind, cpus: sandboxCpus(config) }
      : { limit: 'none', reason: cgroups.reason ?? 'no writable cpu controller' },
    uids: uids
      ? { mode: 'per sandbox', ...uids.stats() }
      : {
          mode: 'shared',
          uid: ownUid,
          reason: 'the server is not root (or setpriv is missing): every sandbox runs as its uid',
        },
    kernel: sandboxed
      ? {
          seccomp: seccomp ? { arch: seccomp.arch, denied_calls: DENIED.length } : null,
          nested_user_namespaces: disablesUserns
            ? 'disabled (bubblewrap)'
            : seccomp
              ? 'denied by seccomp only'
              : 'allowed',
          hostname: SANDBOX_HOSTNAME,
        }
      : null,
  }
}
