/**
 * Limits on a whole sandbox, held by the kernel outside it. RLIMIT_AS bounds each process, but a program may
 * fork up to EXEC_MAX_PROCESSES of them, each with the full allowance (measured: ~1 GB resident in one sandbox
 * with a 256 MB limit, 16 GB possible). A cgroup per sandbox bounds the sum of memory, /tmp's tmpfs pages
 * included, and its OOM count tells a memory kill from a crash; `pids.max` bounds its processes and threads
 * together; the CPU quota bounds how much of the machine it gets however many processes it starts (a limit in
 * the harness, which learner code shares a process with, is no limit).
 *
 * Needs write access to a cgroup file system (root, or a delegated subtree); otherwise `kind` is 'none' with a
 * reason and sandboxes keep only their per-process limits. cgroup v2 (unified) and v1 (one hierarchy per
 * controller, each joined) are both supported; memory is required, pids and cpu apply where the host has them
 * (`controllers`). Each group is one sandbox, made when the sandbox starts and removed when it ends.
 *
 * @example
 * const cgroups = await probeCgroups()
 * const group = cgroups.create({ memoryBytes: 768 << 20, pids: 66, cpus: 2 })
 * const proc = Bun.spawn(group ? group.wrap(argv) : argv, { env: {} })
 * // … after the run
 * if (group?.oomKilled()) report('memory_limit')
 * await group?.remove(proc.exited)
 */
import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { killAll, owned, removeWhenEmpty, sweepStale } from './cgroup-cleanup'
import { ownCgroups, prepareLayout, read, type Controller, type Layout } from './cgroup-layout'

export { removeOwnedGroups } from './cgroup-cleanup'
export { ownCgroups, prepareLayout, type Controller } from './cgroup-layout'

export interface CgroupLimits {
  /** Memory of every process and /tmp together (no swap). */
  memoryBytes: number
  /** Processes and threads of the whole sandbox. */
  pids: number
  /** CPU time per wall time, in CPUs (2 = two CPUs' worth, however many processes share it). */
  cpus: number
}

export interface SandboxCgroup {
  /** Argv that first moves itself into the group (before any sandbox process exists), then execs `argv`. */
  wrap(argv: string[]): string[]
  /** The group's cgroup.procs file in each hierarchy: a process joins by writing its pid to each. */
  readonly procs: string[]
  /** True once the kernel killed a process of the group for memory. */
  oomKilled(): boolean
  /** Memory the group uses now, in bytes (its processes and its tmpfs pages), as the kernel counts it. */
  memoryUsed(): number
  /** Kills whatever is left in the group, wherever it went. */
  kill(): void
  /**
   * Removes the group once its processes are gone: after `exited` (the leader reaped), killing what is still
   * listed and retrying briefly while the kernel finishes them. Resolves true once removed (no process is left),
   * false if it had to give up. Safe to call more than once.
   */
  remove(exited?: Promise<unknown>): Promise<boolean>
}

export interface SandboxCgroups {
  readonly kind: 'v2' | 'v1' | 'none'
  /** Why there are no cgroups here (null when there are). */
  readonly reason: string | null
  /** The limits a group carries on this host; memory whenever kind is not 'none'. */
  readonly controllers: Controller[]
  /** A new group with these limits, or null without cgroups or when creating it fails. */
  create(limits: CgroupLimits): SandboxCgroup | null
  /** Removes every group still here and then the parent folders; resolves when they are gone (or given up). */
  close(): Promise<void>
}

const NONE = (reason: string): SandboxCgroups => ({
  kind: 'none',
  reason,
  controllers: [],
  create: () => null,
  close: async () => {},
})

/** No cgroups, and why. */
export const noCgroups = async (reason: string): Promise<SandboxCgroups> => NONE(reason)

/** The CFS period: quota = CPUs × period. 100 ms is the kernel's default. */
const CPU_PERIOD_US = 100_000

type Writes = [file: string, value: string][]

/**
 * Limit files and values per controller. A failed `required` write fails the group; `optional` ones may be
 * refused: no swap accounting on this kernel, or (v1) a CPU quota above the one of a group we run in, which
 * then bounds the sandbox anyway.
 */
function limitFiles(
  kind: 'v2' | 'v1',
  limits: CgroupLimits,
): Record<Controller, { required: Writes; optional: Writes }> {
  const { memoryBytes, pids, cpus } = limits
  const quota = String(Math.max(1000, Math.round(cpus * CPU_PERIOD_US)))
  const v2 = kind === 'v2'
  return {
    memory: {
      required: [[v2 ? 'memory.max' : 'memory.limit_in_bytes', String(memoryBytes)]],
      // Without this, a v1 group pushes the excess to swap instead of stopping the program.
      optional: [[v2 ? 'memory.swap.max' : 'memory.memsw.limit_in_bytes', v2 ? '0' : String(memoryBytes)]],
    },
    pids: { required: [['pids.max', String(pids)]], optional: [] },
    cpu: {
      required: [],
      optional: v2
        ? [['cpu.max', `${quota} ${CPU_PERIOD_US}`]]
        : [
            ['cpu.cfs_period_us', String(CPU_PERIOD_US)],
            ['cpu.cfs_quota_us', quota],
          ],
    },
  }
}

function oomCount(text: string): number {
  return Number(/^oom_kill (\d+)/m.exec(text)?.[1] ?? 0)
}

/**
 * `sh` runs as the server (it may write to the groups), joins every group, then becomes the sandbox: every
 * process the sandbox ever starts is created inside them, so none can be missed. (`unset PWD`: the shell would
 * add it to the environment the sandbox is given.)
 */
const JOIN =
  'for procs do [ "$procs" = -- ] && break; echo $$ > "$procs" || exit 125; shift; done; shift; unset PWD; exec "$@"'

export function cgroupsAt(layout: Layout): SandboxCgroups {
  const controllers = (Object.keys(layout.parents) as Controller[]).filter((c) => layout.parents[c])
  const parents = [...new Set(controllers.map((c) => layout.parents[c]!))]
  const killFile = layout.kind === 'v2' ? 'cgroup.kill' : null
  let next = 0
  const removing = new Set<Promise<boolean>>()
  const groups = new Set<string>()
  for (const parent of parents) owned.add(parent)
  return {
    kind: layout.kind,
    reason: null,
    controllers,
    create(limits) {
      const name = `sandbox-${next++}`
      const dirs = parents.map((parent) => join(parent, name))
      const at = (controller: Controller) => join(layout.parents[controller]!, name)
      const files = limitFiles(layout.kind, limits)
      try {
        for (const dir of dirs) mkdirSync(dir)
        for (const controller of controllers) {
          for (const [file, value] of files[controller].required) writeFileSync(join(at(controller), file), value)
          for (const [file, value] of files[controller].optional) {
            try {
              writeFileSync(join(at(controller), file), value)
            } catch {
              // see limitFiles: nothing (more) to limit
            }
          }
        }
      } catch {
        for (const dir of dirs) {
          try {
            rmdirSync(dir)
          } catch {
            // never made
          }
        }
        return null
      }
      for (const dir of dirs) {
        groups.add(dir)
        owned.add(dir)
      }
      const memory = at('memory')
      const oomFile = layout.kind === 'v2' ? 'memory.events' : 'memory.oom_control'
      const usageFile = layout.kind === 'v2' ? 'memory.current' : 'memory.usage_in_bytes'
      const killAllOf = () => killAll(memory, killFile)
      let removal: Promise<boolean> | undefined
      const procs = dirs.map((dir) => join(dir, 'cgroup.procs'))
      return {
        wrap: (argv) => ['/bin/sh', '-c', JOIN, 'join-cgroups', ...procs, '--', ...argv],
        procs,
        oomKilled: () => oomCount(read(join(memory, oomFile))) > 0,
        memoryUsed: () => Number(read(join(memory, usageFile))) || 0,
        kill: killAllOf,
        remove(exited = Promise.resolve()) {
          if (removal) return removal
          // Nothing is killed up front: once the leader is reaped its pid namespace is gone, so only processes
          // on their way out can be left; each failed rmdir below kills what is still listed.
          const done: Promise<boolean> = exited
            .then(async () => {
              let removed = true
              for (const dir of dirs) removed = (await removeWhenEmpty(dir, killFile)) && removed
              return removed
            })
            .finally(() => {
              for (const dir of dirs) {
                groups.delete(dir)
                owned.delete(dir)
              }
              removing.delete(done)
            })
          removal = done
          removing.add(done)
          return done
        },
      }
    },
    async close() {
      for (const dir of groups) killAll(dir, killFile)
      await Promise.all([...removing])
      for (const dir of groups) await removeWhenEmpty(dir, killFile)
      for (const parent of parents) {
        await removeWhenEmpty(parent, null)
        owned.delete(parent)
      }
    },
  }
}

/**
 * Under contention the kernel shares CPU between sibling groups by weight, and the folder of all sandboxes is
 * one sibling: at the default weight, every sandbox together would get what one ordinary process gets (measured
 * on a busy 2-CPU host: execute-endpoint p50 +70 %). It gets the weight of `processes` ordinary processes
 * instead (the runs at once: a pooled sandbox starting next to a running one no longer halves its share), and
 * no more, so the server itself keeps its share; each sandbox's own quota still caps it.
 */
function weigh(kind: 'v2' | 'v1', parent: string, processes: number) {
  try {
    if (kind === 'v2') writeFileSync(join(parent, 'cpu.weight'), String(Math.min(10_000, 100 * processes)))
    else writeFileSync(join(parent, 'cpu.shares'), String(Math.min(262_144, 1024 * processes)))
  } catch {
    // not ours to weigh: the sandboxes share one weight
  }
}

/**
 * Detects cgroups and proves they work: a trial group with tiny limits must take in a shell, in every
 * hierarchy, and the shell must see itself there. Resolves to `kind: 'none'` with a reason rather than failing.
 * `cpuWeight`: how many ordinary processes' worth of CPU all sandboxes together get when the machine is busy.
 */
export async function probeCgroups(
  root = '/sys/fs/cgroup',
  // One folder per runner: several runners in one process (tests) must never remove each other's groups.
  name = `ai-tutor-sandboxes-${process.pid}-${crypto.randomUUID().slice(0, 8)}`,
  { cpuWeight = 1 }: { cpuWeight?: number } = {},
): Promise<SandboxCgroups> {
  const layout = prepareLayout(root, read('/proc/self/cgroup'), name)
  if (typeof layout === 'string') return NONE(layout)
  if (layout.parents.cpu) weigh(layout.kind, layout.parents.cpu, cpuWeight)
  const where = layout.parents.memory!
  for (const parent of new Set(Object.values(layout.parents))) sweepStale(dirname(parent))
  const cgroups = cgroupsAt(layout)
  const trial = cgroups.create({ memoryBytes: 64 << 20, pids: 16, cpus: 1 })
  if (!trial) {
    await cgroups.close()
    return NONE(`cannot create a cgroup under ${where}`)
  }
  const proc = Bun.spawn(trial.wrap(['/bin/sh', '-c', 'cat /proc/self/cgroup']), {
    env: {},
    stdout: 'pipe',
    stderr: 'ignore',
  })
  const [text, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited])
  void trial.remove(proc.exited)
  const seen = ownCgroups(text)
  const inside = (path: string | undefined) => path?.endsWith(`${name}/sandbox-0`) ?? false
  const joined =
    code === 0 && (layout.kind === 'v2' ? inside(seen.v2) : cgroups.controllers.every((c) => inside(seen[c])))
  if (!joined) {
    await cgroups.close()
    return NONE(`a process could not join a cgroup under ${where}`)
  }
  return cgroups
}
