/**
 * Limits of a whole sandbox held by its cgroup (src/sandbox/cgroup.ts): processes (pids.max) and CPU time
 * (cpu.max, or the CFS quota on v1), next to memory (test/execution/memory.test.ts). Real cgroups where this
 * machine lets us write them; the layout logic is also checked on plain folders standing in for /sys/fs/cgroup,
 * for both v1 and v2.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ownCgroups, prepareLayout, probeCgroups } from '../../src/sandbox/cgroup'
import { realSandbox, runPython } from './boxed'

const folders: string[] = []
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true })
})
const fakeRoot = (kind: string) => {
  const root = mkdtempSync(join(tmpdir(), `cgroup-${kind}-`))
  folders.push(root)
  return root
}

describe('cgroup layout', () => {
  test('reads our own place in every hierarchy', () => {
    expect(ownCgroups('0::/user.slice/session-1.scope\n')).toEqual({ v2: '/user.slice/session-1.scope' })
    const v1 = '8:pids:/p\n5:devices:/\n4:memory:/a/b\n2:cpu,cpuacct:/c\n0::/\n'
    expect(ownCgroups(v1)).toEqual({ v2: '/', memory: '/a/b', pids: '/p', cpu: '/c' })
    expect(ownCgroups('3:cpu,memory:/x:y\n')).toEqual({ memory: '/x:y', cpu: '/x:y' })
  })

  test('v2: a folder next to our own group, with memory, pids and cpu handed down to it', () => {
    const root = fakeRoot('v2')
    mkdirSync(join(root, 'system.slice/app.service'), { recursive: true })
    writeFileSync(join(root, 'cgroup.controllers'), 'cpu io memory pids\n')
    writeFileSync(join(root, 'system.slice/cgroup.subtree_control'), 'io\n')
    const parent = join(root, 'system.slice/sandboxes')
    expect(prepareLayout(root, '0::/system.slice/app.service\n', 'sandboxes')).toEqual({
      kind: 'v2',
      parents: { memory: parent, pids: parent, cpu: parent },
    })
    // Each controller was switched on in both folders; a plain file keeps only the last write.
    expect(readFileSync(join(root, 'system.slice/cgroup.subtree_control'), 'utf8')).toBe('+cpu')
    expect(readFileSync(join(parent, 'cgroup.subtree_control'), 'utf8')).toBe('+cpu')
  })

  test('v2 without pids and cpu delegated: memory only', () => {
    const root = fakeRoot('v2-memory')
    mkdirSync(join(root, 'app'), { recursive: true })
    writeFileSync(join(root, 'cgroup.controllers'), 'io memory\n')
    expect(prepareLayout(root, '0::/app\n', 'sandboxes')).toEqual({
      kind: 'v2',
      parents: { memory: join(root, 'sandboxes') },
    })
  })

  test('v1: a folder inside our own group of each hierarchy, cpu co-mounted with cpuacct', () => {
    const root = fakeRoot('v1')
    for (const mount of ['memory/jobs', 'pids', 'cpu,cpuacct/slice']) mkdirSync(join(root, mount), { recursive: true })
    for (const mount of ['memory', 'pids', 'cpu,cpuacct']) writeFileSync(join(root, mount, 'cgroup.procs'), '')
    expect(prepareLayout(root, '9:pids:/\n4:memory:/jobs\n2:cpu,cpuacct:/slice\n0::/\n', 'sandboxes')).toEqual({
      kind: 'v1',
      parents: {
        memory: join(root, 'memory/jobs/sandboxes'),
        pids: join(root, 'pids/sandboxes'),
        cpu: join(root, 'cpu,cpuacct/slice/sandboxes'),
      },
    })
  })

  test('nothing usable is a reason, not a failure', () => {
    expect(prepareLayout(join(fakeRoot('none'), 'nothing'), '0::/\n', 'sandboxes')).toBe(
      'no memory cgroup controller is mounted',
    )
  })
})

const NAME = `ai-tutor-cgroup-test-${process.pid}`
const cgroups = await probeCgroups(undefined, NAME, { cpuWeight: 3 })
const has = (controller: 'pids' | 'cpu') => cgroups.controllers.includes(controller)
afterAll(() => cgroups.close())

// Root is exempt from RLIMIT_NPROC: a root process in the group is bounded by pids.max alone.
test.if(has('pids') && process.getuid?.() === 0)(
  'pids.max caps the processes of a group with no process rlimit at all',
  async () => {
    const group = cgroups.create({ memoryBytes: 256 << 20, pids: 10, cpus: 1 })!
    const forker = [
      'import os',
      'r, w = os.pipe()',
      'n = 0',
      'try:',
      '    while n < 1000:',
      '        if os.fork() == 0:',
      '            os.close(1)  # the test reads stdout to its end',
      '            os.read(r, 1)',
      '            os._exit(0)',
      '        n += 1',
      'except OSError as e:',
      '    print(n, e.errno)',
    ].join('\n')
    const proc = Bun.spawn(group.wrap(['/usr/bin/python3', '-I', '-S', '-c', forker]), { env: {}, stdout: 'pipe' })
    const [out] = await Promise.all([new Response(proc.stdout).text(), proc.exited])
    await group.remove(proc.exited)
    expect(out.trim()).toBe('9 11') // the forker itself and nine children; then EAGAIN
  },
)

// One folder holds every sandbox; at the default weight they would all share what one ordinary process gets.
test.if(has('cpu'))('under contention, the sandboxes together weigh as much as the processes they may run', () => {
  const own = ownCgroups(readFileSync('/proc/self/cgroup', 'utf8'))
  const above = own.v2 === '/' ? '/sys/fs/cgroup' : join('/sys/fs/cgroup', own.v2 ?? '/', '..')
  const [file, weight] =
    cgroups.kind === 'v1'
      ? [join('/sys/fs/cgroup/cpu', own.cpu ?? '/', NAME, 'cpu.shares'), '3072']
      : [join(above, NAME, 'cpu.weight'), '300']
  expect(readFileSync(file, 'utf8').trim()).toBe(weight)
})

const oneCpu = await realSandbox({ EXEC_CPUS: '1', EXEC_MAX_PROCESSES: '64' })

describe.if(has('cpu'))('CPU quota', () => {
  // 32 processes spin for a second of wall time; the group's quota of one CPU bounds their total CPU time,
  // however many CPUs the machine has. Generous bound: the quota is enforced per 100 ms period.
  test('32 spinning processes get no more than the quota', async () => {
    const spin = [
      'import json, os, time',
      'start = time.monotonic()',
      'pids = []',
      'for _ in range(32):',
      '    pid = os.fork()',
      '    if pid == 0:',
      '        while time.monotonic() - start < 1.0:',
      '            pass',
      '        os._exit(0)',
      '    pids.append(pid)',
      'for pid in pids:',
      '    os.waitpid(pid, 0)',
      'wall = time.monotonic() - start',
      'used = os.times()',
      'print(json.dumps({"cpu": used.children_user + used.children_system, "wall": wall}))',
    ].join('\n')
    const { cpu, wall } = await runPython(oneCpu.sandbox, spin)
    expect(cpu / wall).toBeLessThan(1.6)
  }, 20_000)
})
