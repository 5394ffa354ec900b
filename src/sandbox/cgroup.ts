/**
 * A memory ceiling for a whole sandbox. RLIMIT_AS bounds each process, but a program may fork up to
 * EXEC_MAX_PROCESSES of them, each with the full allowance (measured: ~1 GB resident in one sandbox with a
 * 256 MB limit, 16 GB possible). A memory cgroup bounds the sum, /tmp's tmpfs pages included, and its OOM count
 * tells a memory kill from a crash.
 *
 * Needs write access to a cgroup file system (root, or a delegated subtree); otherwise `kind` is 'none' with a
 * reason and sandboxes keep only their per-process limits. cgroup v2 (unified) and v1 (memory controller) are
 * both supported; each group is one sandbox, made when the sandbox starts and removed when it ends.
 *
 * @example
 * const cgroups = await probeCgroups()
 * const group = cgroups.create(768 << 20)
 * const proc = Bun.spawn(group ? group.wrap(argv) : argv, { env: {} })
 * // … after the run
 * if (group?.oomKilled()) report('memory_limit')
 * group?.remove(proc.exited)
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

export interface SandboxCgroup {
  /** Argv that first moves itself into the group (before any sandbox process exists), then execs `argv`. */
  wrap(argv: string[]): string[]
  /** True once the kernel killed a process of the group for memory. */
  oomKilled(): boolean
  /** Kills whatever is left in the group, wherever it went. */
  kill(): void
  /**
   * Kills what is left and removes the group once its processes are gone: after `exited` (the leader reaped),
   * retried briefly while the kernel finishes the others.
   */
  remove(exited?: Promise<unknown>): void
}

export interface SandboxCgroups {
  readonly kind: 'v2' | 'v1' | 'none'
  /** Why there are no cgroups here (null when there are). */
  readonly reason: string | null
  /** A new group limited to `bytes` of memory (no swap), or null without cgroups or when creating it fails. */
  create(bytes: number): SandboxCgroup | null
  /** Removes every group still here and then the parent folder; resolves when they are gone (or given up). */
  close(): Promise<void>
}

interface Layout {
  kind: 'v2' | 'v1'
  /** Folder that holds one child folder per sandbox. */
  parent: string
}

const NONE = (reason: string): SandboxCgroups => ({ kind: 'none', reason, create: () => null, close: async () => {} })

const read = (path: string) => {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

/** Where our own process sits in each hierarchy, from /proc/self/cgroup (`0::/path` is v2, `N:memory:/path` v1). */
export function ownCgroups(procSelfCgroup: string): { v2?: string; memory?: string } {
  const found: { v2?: string; memory?: string } = {}
  for (const line of procSelfCgroup.split('\n')) {
    const first = line.indexOf(':')
    const second = line.indexOf(':', first + 1)
    if (first < 0 || second < 0) continue
    const [id, controllers, path] = [line.slice(0, first), line.slice(first + 1, second), line.slice(second + 1)]
    if (id === '0' && controllers === '') found.v2 = path
    if (controllers?.split(',').includes('memory')) found.memory = path
  }
  return found
}

/**
 * Finds a place for sandbox groups. v2: a folder next to our own group (a group holding processes cannot also
 * hand controllers to children), with the memory controller switched on for it. v1: a folder inside our own
 * memory group. `root` is the cgroup mount point (a parameter so the logic can be tested on a plain folder).
 */
export function prepareLayout(root: string, procSelfCgroup: string, name: string): Layout | string {
  const own = ownCgroups(procSelfCgroup)
  const unified = existsSync(join(root, 'cgroup.controllers')) ? root : null
  if (unified && own.v2 !== undefined && read(join(unified, 'cgroup.controllers')).split(/\s+/).includes('memory')) {
    const mine = join(unified, own.v2)
    const above = own.v2 === '/' ? unified : join(mine, '..')
    try {
      enable(above, 'memory')
      const parent = join(above, name)
      mkdirSync(parent, { recursive: true })
      enable(parent, 'memory')
      return { kind: 'v2', parent }
    } catch (error) {
      return `cgroup v2 is not writable here (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`
    }
  }
  const v1 = join(root, 'memory')
  if (own.memory !== undefined && existsSync(join(v1, 'memory.limit_in_bytes'))) {
    try {
      const parent = join(v1, own.memory, name)
      mkdirSync(parent, { recursive: true })
      return { kind: 'v1', parent }
    } catch (error) {
      return `cgroup v1 memory is not writable here (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`
    }
  }
  return 'no memory cgroup controller is mounted'
}

function enable(group: string, controller: string) {
  const control = join(group, 'cgroup.subtree_control')
  if (!read(control).split(/\s+/).includes(controller)) writeFileSync(control, `+${controller}`)
}

function files(kind: 'v2' | 'v1') {
  return kind === 'v2'
    ? { limit: ['memory.max'], noSwap: 'memory.swap.max', events: 'memory.events', kill: 'cgroup.kill' }
    : { limit: ['memory.limit_in_bytes'], noSwap: 'memory.memsw.limit_in_bytes', events: 'memory.oom_control', kill: null }
}

function oomCount(text: string): number {
  return Number(/^oom_kill (\d+)/m.exec(text)?.[1] ?? 0)
}

export function cgroupsAt(layout: Layout): SandboxCgroups {
  const names = files(layout.kind)
  let next = 0
  const removing = new Set<Promise<void>>()
  const groups = new Set<string>()
  owned.add(layout.parent)
  return {
    kind: layout.kind,
    reason: null,
    create(bytes) {
      const dir = join(layout.parent, `sandbox-${next++}`)
      try {
        mkdirSync(dir)
        for (const file of names.limit) writeFileSync(join(dir, file), String(bytes))
        try {
          // Without this, a v1 group pushes the excess to swap instead of stopping the program.
          writeFileSync(join(dir, names.noSwap), layout.kind === 'v2' ? '0' : String(bytes))
        } catch {
          // no swap accounting on this kernel: nothing to limit
        }
      } catch {
        try {
          rmdirSync(dir)
        } catch {
          // never made
        }
        return null
      }
      groups.add(dir)
      owned.add(dir)
      const procs = join(dir, 'cgroup.procs')
      let removal: Promise<void> | undefined
      return {
        // `sh` runs as the server (it may write to the group), joins the group, then becomes the sandbox: every
        // process the sandbox ever starts is created inside the group, so none can be missed.
        // (`unset PWD`: the shell would add it to the environment the sandbox is given.)
        wrap: (argv) => ['/bin/sh', '-c', 'echo $$ > "$0" && unset PWD && exec "$@"', procs, ...argv],
        oomKilled: () => oomCount(read(join(dir, names.events))) > 0,
        kill: () => killAll(dir, names.kill),
        remove(exited = Promise.resolve()) {
          if (removal) return
          killAll(dir, names.kill)
          removal = exited
            .then(() => removeWhenEmpty(dir, names.kill))
            .finally(() => {
              groups.delete(dir)
              owned.delete(dir)
              removing.delete(removal!)
            })
          removing.add(removal)
        },
      }
    },
    async close() {
      for (const dir of groups) killAll(dir, names.kill)
      await Promise.all([...removing])
      for (const dir of groups) await removeWhenEmpty(dir, names.kill)
      await removeWhenEmpty(layout.parent, null)
      owned.delete(layout.parent)
    },
  }
}

/**
 * Ends every process of a group, including any that left the sandbox's process group with setsid (without
 * bubblewrap there is no pid namespace to take them down). v2 (5.14+) does it in one write; otherwise kill what
 * the group lists, a few rounds in case one of them was forking meanwhile.
 */
function killAll(dir: string, killFile: string | null) {
  if (killFile) {
    try {
      writeFileSync(join(dir, killFile), '1')
      return
    } catch {
      // kernel before 5.14: list and kill
    }
  }
  for (let round = 0; round < 10; round++) {
    const pids = read(join(dir, 'cgroup.procs')).split('\n').filter(Boolean).map(Number)
    if (pids.length === 0) return
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * rmdir fails (EBUSY) while killed processes of the group are still exiting; kill again and retry for up to
 * about two seconds. Gone already is success.
 */
async function removeWhenEmpty(dir: string, killFile: string | null) {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      rmdirSync(dir)
      return
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    }
    killAll(dir, killFile)
    await pause(attempt < 10 ? 2 : 20)
  }
}

/** Every group folder of this process that still exists (see removeOwnedGroups). */
const owned = new Set<string>()

/**
 * Kills and removes every group this process made and still holds, synchronously: a process that ends without
 * closing its sandbox (an interrupted server, a test file that never closed its runner) leaves nothing on the
 * host. Runs on process exit; the test suite calls it after the last test (bun test emits no exit event).
 */
export function removeOwnedGroups() {
  const folders = [...owned].sort((a, b) => b.length - a.length) // children before their parent
  for (const dir of folders) killAll(dir, existsSync(join(dir, 'cgroup.kill')) ? 'cgroup.kill' : null)
  const until = Date.now() + 1000
  for (const dir of folders) {
    for (;;) {
      try {
        rmdirSync(dir)
        owned.delete(dir)
        break
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          owned.delete(dir)
          break
        }
        if (Date.now() > until) break
        killAll(dir, null)
      }
    }
  }
}
process.once('exit', removeOwnedGroups)

/** Removes the (empty) group folders of servers that ended without closing their runner. */
export function sweepStale(above: string) {
  let entries: string[] = []
  try {
    entries = readdirSync(above)
  } catch {
    return
  }
  for (const entry of entries) {
    const pid = /^ai-tutor-sandboxes-(\d+)/.exec(entry)?.[1]
    if (!pid || existsSync(`/proc/${pid}`)) continue
    const folder = join(above, entry)
    try {
      for (const child of readdirSync(folder, { withFileTypes: true })) if (child.isDirectory()) rmdirSync(join(folder, child.name))
      rmdirSync(folder)
    } catch {
      // still in use or not ours to remove: leave it
    }
  }
}

/**
 * Detects cgroups and proves they work: a trial group with a tiny limit must take in a shell and report it.
 * Resolves to `kind: 'none'` with a reason rather than failing.
 */
export async function probeCgroups(
  root = '/sys/fs/cgroup',
  // One folder per runner: several runners in one process (tests) must never remove each other's groups.
  name = `ai-tutor-sandboxes-${process.pid}-${crypto.randomUUID().slice(0, 8)}`,
): Promise<SandboxCgroups> {
  const layout = prepareLayout(root, read('/proc/self/cgroup'), name)
  if (typeof layout === 'string') return NONE(layout)
  sweepStale(dirname(layout.parent))
  const cgroups = cgroupsAt(layout)
  const trial = cgroups.create(64 << 20)
  if (!trial) {
    await cgroups.close()
    return NONE(`cannot create a memory cgroup under ${layout.parent}`)
  }
  const proc = Bun.spawn(trial.wrap(['/bin/sh', '-c', 'cat /proc/self/cgroup']), { env: {}, stdout: 'pipe', stderr: 'ignore' })
  const [text, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited])
  trial.remove(proc.exited)
  const joined = code === 0 && text.includes(`${name}/sandbox-0`)
  if (!joined) {
    await cgroups.close()
    return NONE(`a process could not join a memory cgroup under ${layout.parent}`)
  }
  return cgroups
}
