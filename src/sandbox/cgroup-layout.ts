/**
 * Where sandbox cgroups go on this host, and which limits they can carry (see cgroup.ts for their life).
 * cgroup v2 has one hierarchy: a folder with the memory, pids and cpu controllers handed down to it. v1 has one
 * hierarchy per controller: a folder in each of memory, pids and cpu, and a sandbox joins all of them.
 * Memory is the anchor (without it, no cgroups at all); pids and cpu are added where the host has them.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export type Controller = 'memory' | 'pids' | 'cpu'
const CONTROLLERS: Controller[] = ['memory', 'pids', 'cpu']

export interface Layout {
  kind: 'v2' | 'v1'
  /** Per controller, the folder that holds one child folder per sandbox (v2: the same folder for all). */
  parents: Partial<Record<Controller, string>>
}

export const read = (path: string) => {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

const failure = (error: unknown) => (error as NodeJS.ErrnoException).code ?? (error as Error).message

/**
 * Where our own process sits in each hierarchy, from /proc/self/cgroup (`0::/path` is v2, `N:memory:/path` or
 * `N:cpu,cpuacct:/path` v1).
 */
export function ownCgroups(procSelfCgroup: string): { v2?: string } & Partial<Record<Controller, string>> {
  const found: { v2?: string } & Partial<Record<Controller, string>> = {}
  for (const line of procSelfCgroup.split('\n')) {
    const first = line.indexOf(':')
    const second = line.indexOf(':', first + 1)
    if (first < 0 || second < 0) continue
    const [id, controllers, path] = [line.slice(0, first), line.slice(first + 1, second), line.slice(second + 1)]
    if (id === '0' && controllers === '') found.v2 = path
    for (const name of controllers.split(','))
      if ((CONTROLLERS as string[]).includes(name)) found[name as Controller] = path
  }
  return found
}

/** The v1 mount point of `controller`: `root/cpu`, or a co-mounted `root/cpu,cpuacct` without the usual symlink. */
function v1Mount(root: string, controller: Controller): string | null {
  if (existsSync(join(root, controller, 'cgroup.procs'))) return join(root, controller)
  let entries: string[] = []
  try {
    entries = readdirSync(root)
  } catch {
    return null
  }
  const joint = entries.find((entry) => entry.split(',').includes(controller))
  return joint && existsSync(join(root, joint, 'cgroup.procs')) ? join(root, joint) : null
}

/**
 * Finds a place for sandbox groups. v2: a folder next to our own group (a group holding processes cannot also
 * hand controllers to children), with the controllers switched on for it. v1: a folder inside our own group of
 * each hierarchy. `root` is the cgroup mount point (a parameter so the logic can be tested on a plain folder).
 */
export function prepareLayout(root: string, procSelfCgroup: string, name: string): Layout | string {
  const own = ownCgroups(procSelfCgroup)
  const available = read(join(root, 'cgroup.controllers')).split(/\s+/)
  if (existsSync(join(root, 'cgroup.controllers')) && own.v2 !== undefined && available.includes('memory')) {
    const above = own.v2 === '/' ? root : join(root, own.v2, '..')
    let parent: string
    try {
      enable(above, 'memory')
      parent = join(above, name)
      mkdirSync(parent, { recursive: true })
      enable(parent, 'memory')
    } catch (error) {
      return `cgroup v2 is not writable here (${failure(error)})`
    }
    const parents: Layout['parents'] = { memory: parent }
    for (const controller of ['pids', 'cpu'] as const) {
      if (!available.includes(controller)) continue
      try {
        enable(above, controller)
        enable(parent, controller)
        parents[controller] = parent
      } catch {
        // not delegated to us (or, for cpu, a real-time process in the way): this limit does not apply
      }
    }
    return { kind: 'v2', parents }
  }
  const parents: Layout['parents'] = {}
  for (const controller of CONTROLLERS) {
    const mount = v1Mount(root, controller)
    const mine = own[controller]
    if (!mount || mine === undefined) continue
    try {
      const parent = join(mount, mine, name)
      mkdirSync(parent, { recursive: true })
      parents[controller] = parent
    } catch (error) {
      if (controller === 'memory') return `cgroup v1 memory is not writable here (${failure(error)})`
    }
  }
  if (parents.memory) return { kind: 'v1', parents }
  return 'no memory cgroup controller is mounted'
}

function enable(group: string, controller: Controller) {
  const control = join(group, 'cgroup.subtree_control')
  if (!read(control).split(/\s+/).includes(controller)) writeFileSync(control, `+${controller}`)
}
