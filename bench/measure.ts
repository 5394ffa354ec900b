/**
 * What the benches share: a percentile of samples, a JSON POST through an app in this process, and what a process
 * tree holds (its processes, their memory).
 */
import { readdirSync, readFileSync } from 'node:fs'
import type { createApp } from '../src/app'

/** The p-th percentile (0-100) of `samples`, nearest rank; NaN when there are none. */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

/** POSTs `body` as JSON to `path` through `app.handle` and reads the JSON answer. */
export function postJson(app: ReturnType<typeof createApp>, path: string, body: unknown): Promise<any> {
  const request = new Request(`http://localhost${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return app.handle(request).then((response) => response.json())
}

/** Every process below `pid` (children, grandchildren, ...), from the parent pid in /proc/<pid>/stat. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // The command name may hold spaces and parentheses: the parent pid follows the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = []
  const walk = (parent: number) => {
    for (const child of children.get(parent) ?? []) {
      found.push(child)
      walk(child)
    }
  }
  walk(pid)
  return found
}

/**
 * Memory of `pids` together, in MiB: PSS (each shared page divided among the processes that map it, so the pages
 * a forked box shares with its zygote count once in all; but also among processes outside `pids`, such as other
 * Bun or Python processes on the machine, so it is lower while they run), the plain sum of RSS (which counts
 * shared pages in each: an upper bound) and of USS (private pages only: a lower bound).
 */
export function memoryMiB(pids: number[]): { pss: number; rss: number; uss: number } {
  let pss = 0
  let rss = 0
  let uss = 0
  for (const pid of pids) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
      pss += Number(rollup.match(/^Pss:\s+(\d+) kB/m)?.[1] ?? 0)
      rss += Number(rollup.match(/^Rss:\s+(\d+) kB/m)?.[1] ?? 0)
      uss += Number(rollup.match(/^Private_Clean:\s+(\d+) kB/m)?.[1] ?? 0)
      uss += Number(rollup.match(/^Private_Dirty:\s+(\d+) kB/m)?.[1] ?? 0)
    } catch {
      // gone meanwhile, or a kernel thread without a memory map
    }
  }
  return { pss: pss / 1024, rss: rss / 1024, uss: uss / 1024 }
}

/**
 * Live processes (zombies left out) whose host uid is in [first, first + count): a sandbox uid range's. With each,
 * its name (the `Name:` line of its status: `chromium`, `python3`, ...).
 */
export function processesOfUids(first: number, count = 1000): { pid: number; name: string }[] {
  const found: { pid: number; name: string }[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8')
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1])
      if (uid < first || uid >= first + count || /^State:\s+Z/m.test(status)) continue
      found.push({ pid: Number(entry), name: /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '' })
    } catch {
      // gone meanwhile
    }
  }
  return found
}

/** Whether a process still exists and is not a zombie. */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat[stat.lastIndexOf(')') + 2] !== 'Z'
  } catch {
    return false
  }
}

/** The 1-minute load average, for the line printed next to the figures. */
export const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')

/** Cgroup folders made for the sandboxes of process `pid` (src/sandbox/cgroup.ts names them) that still exist. */
export function cgroupsOf(pid: number, root = '/sys/fs/cgroup', depth = 6): string[] {
  const found: string[] = []
  const walk = (dir: string, left: number) => {
    let entries: import('node:fs').Dirent[]
    try {
      entries = readdirSync(dir, { withFileTypes: true })
    } catch {
      return // removed meanwhile
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue
      if (entry.name.startsWith(`ai-tutor-sandboxes-${pid}-`)) found.push(`${dir}/${entry.name}`)
      else if (left > 0) walk(`${dir}/${entry.name}`, left - 1)
    }
  }
  walk(root, depth)
  return found
}

/**
 * CPU time the whole machine has spent busy so far, in ms (/proc/stat: all but idle and iowait, every CPU):
 * counts what no process's own usage shows (kernel threads tearing down namespaces), and anything else running.
 */
export function machineBusyMs(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number)
  const [user, nice, system, , , irq, softirq, steal] = fields as number[]
  return (user! + nice! + system! + irq! + softirq! + steal!) * 10 // USER_HZ: 100 ticks a second
}

/**
 * A sandbox uid range of this bench run's own (SANDBOX_UID_BASE): a bench beside the tests or another bench must not
 * share host uids with them, since the kernel counts processes per uid and a sandbox's clean-up ends its uid's
 * processes (two runs on 100000 killed each other's sandboxes).
 */
export const BENCH_UID_BASE = String(5_000_000 + Math.floor(Math.random() * 1000) * 1000)
