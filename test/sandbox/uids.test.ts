/**
 * A host uid per live sandbox (src/sandbox/uids.ts): the kernel counts processes, keyrings and signal rights
 * per host uid, so sandboxes that share one share all three. Real sandboxes, looked at from the host.
 */
import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { createUidRange, uidRangeSize } from '../../src/sandbox/uids'
import { sandboxProcessLimit } from '../../src/sandbox'
import { lines, realSandbox, startPython } from './boxed'

const root = process.getuid?.() === 0
const { config, sandbox, state } = await realSandbox({ EXEC_MAX_PROCESSES: '16' })
const withoutCgroups = await realSandbox({ EXEC_MAX_PROCESSES: '16' }, { cgroups: false })

/** `pid` and every process below it (the host sees through the sandbox's pid namespace). */
function family(pid: number): number[] {
  let children: number[] = []
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim()
      if (text) children = children.concat(text.split(' ').map(Number))
    }
  } catch {
    // already gone
  }
  return [pid, ...children.flatMap(family)]
}

/** The real uid of `pid` as the host sees it. */
const hostUid = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1])

// Only root may start a process as another uid: an unprivileged server runs every sandbox as itself (/health says so).
const cannot = !root
  ? 'not root: only root may start a process as another uid, so every sandbox runs as the server itself'
  : !state.sandboxed
    ? `no working bubblewrap here: ${state.probe.reason ?? 'not found'}`
    : null
const title = 'as root, each sandbox has a host uid of its own'
describe.skipIf(cannot !== null)(cannot ? `${title} (skipped: ${cannot})` : title, () => {
  test('two sandboxes at once run as different host uids, each with all its processes', async () => {
    const hold =
      'import os, sys\nif os.fork() == 0:\n    sys.stdin.read()\n    os._exit(0)\nprint("ready", flush=True)\nsys.stdin.read()'
    const boxes = [startPython(sandbox, hold), startPython(sandbox, hold)]
    await Promise.all(boxes.map((box) => lines(box)()))
    const seen = boxes.map((box) => [...new Set(family(box.proc.pid).map(hostUid))])
    for (const box of boxes) box.release()
    expect(seen).toEqual([[boxes[0]!.uid], [boxes[1]!.uid]])
    expect(boxes[0]!.uid).not.toBe(boxes[1]!.uid)
    for (const box of boxes) expect(box.uid).toBeGreaterThanOrEqual(config.SANDBOX_UID_BASE)
  })

  // Outside its reach, a sandbox's processes are counted by its cgroup (pids.max) or, without one, by the host on
  // its uid (RLIMIT_NPROC): with one shared uid, the first sandbox's bomb would use up the second one's count,
  // and it could not even start.
  test.each([
    ['with a pids cgroup', sandbox],
    ['without cgroups, by the process limit of its uid', withoutCgroups.sandbox],
  ])("one sandbox's fork bomb does not stop another sandbox's fork (%s)", async (_, sandbox) => {
    const bomb = [
      'import os, sys',
      'r, w = os.pipe()',
      'n = 0',
      'try:',
      '    while n < 10000:',
      '        if os.fork() == 0:',
      '            os.read(r, 1)',
      '            os._exit(0)',
      '        n += 1',
      'except OSError as e:',
      '    print(n, e.errno, flush=True)',
      'sys.stdin.read()',
    ].join('\n')
    const bomber = startPython(sandbox, bomb)
    const [forked, errno] = (await lines(bomber)()).split(' ').map(Number)
    const forkEight =
      'import os\nfor _ in range(8):\n    if os.fork() == 0:\n        os._exit(0)\n    os.wait()\nprint("forked 8", flush=True)'
    const other = startPython(sandbox, forkEight)
    other.proc.stdin.end()
    const said = await lines(other)()
    bomber.release()
    other.release()
    expect({ errno, bounded: forked! < sandboxProcessLimit(config), said }).toEqual({
      errno: 11,
      bounded: true,
      said: 'forked 8',
    })
  })
})

test('health says whether the uids are per sandbox (and from which range) or shared', async () => {
  const { sandbox: report } = (await sandbox.health()) as Record<string, any>
  expect(report.uids).toMatchObject(
    root
      ? { mode: 'per sandbox', first: config.SANDBOX_UID_BASE, count: uidRangeSize(config) }
      : { mode: 'shared', uid: process.getuid?.() },
  )
})

describe('the uid range', () => {
  test('hands out each uid once, the longest-released first, and the shared one when dry', () => {
    const range = createUidRange(1000, 3, 65534)
    const [a, b, c] = [range.take(), range.take(), range.take()]
    expect([a, b, c]).toEqual([1000, 1001, 1002])
    expect(range.take()).toBe(65534)
    range.give(b)
    range.give(a)
    range.give(a) // twice is once
    range.give(65534) // not from the range
    expect([range.take(), range.take(), range.take()]).toEqual([1001, 1000, 65534])
    expect(range.stats()).toEqual({ first: 1000, count: 3, in_use: 3, overflowed: 2 })
  })

  test('holds twice what can run at once, plus slack', () => {
    expect(uidRangeSize({ EXEC_CONCURRENCY: 2, EXEC_POOL_SIZE: 2, SERVERS_MAX: 4 })).toBe(34)
  })
})
