/**
 * Ending what is left in a sandbox's cgroup and removing its folders (cgroup.ts makes them): at the end of each
 * sandbox, on close, on process exit, and for servers that ended without closing.
 */
import { existsSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { read } from './cgroup-layout'

/**
 * Ends every process of a group, including any that left the sandbox's process group with setsid (without
 * bubblewrap there is no pid namespace to take them down). v2 (5.14+) does it in one write; otherwise kill what
 * the group lists, a few rounds in case one of them was forking meanwhile.
 */
export function killAll(dir: string, killFile: string | null) {
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

/** One rmdir: true when the folder is gone (removed now, or already), false while the kernel still holds it. */
function removed(dir: string): boolean {
  try {
    rmdirSync(dir)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT'
  }
}

/**
 * rmdir fails (EBUSY) while killed processes of the group are still exiting; kill again and retry for up to
 * about two seconds. Gone already is success.
 */
export async function removeWhenEmpty(dir: string, killFile: string | null): Promise<boolean> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (removed(dir)) return true
    killAll(dir, killFile)
    await pause(attempt < 10 ? 2 : 20)
  }
  return false
}

/** Every group folder of this process that still exists (see removeOwnedGroups). */
export const owned = new Set<string>()

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
    let gone = removed(dir)
    while (!gone && Date.now() <= until) {
      killAll(dir, null)
      gone = removed(dir)
    }
    if (gone) owned.delete(dir)
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
      for (const child of readdirSync(folder, { withFileTypes: true }))
        if (child.isDirectory()) rmdirSync(join(folder, child.name))
      rmdirSync(folder)
    } catch {
      // still in use or not ours to remove: leave it
    }
  }
}
