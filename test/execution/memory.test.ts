/**
 * Memory of a whole sandbox: RLIMIT_AS bounds one process, a memory cgroup bounds all of them together (a program
 * that forks may not multiply its allowance). Real sandbox, real cgroups where this machine has them; the cgroup
 * layout logic is checked in test/sandbox/cgroup.test.ts.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { readFileSync, rmSync } from 'node:fs'
import { warmUp } from '../../src/app'
import { sandboxMemoryBytes } from '../../src/sandbox'
import { probeCgroups } from '../../src/sandbox/cgroup'
import { sandboxWithoutBwrap, testApp } from '../support/app'
import { testConfig } from '../support/config'
import { get, post } from '../support/http'

const cgroups = await probeCgroups(undefined, `ai-tutor-memory-test-${process.pid}`)
await cgroups.close()
const settings = { EXEC_MEMORY_MB: '128', EXEC_TEST_PARALLELISM: '2', EXEC_TMPFS_MB: '4', EXEC_TIMEOUT_MS: '20000' }
const config = testConfig(settings)
const app = testApp({ config: settings, real: ['runner'] })
const folders: string[] = []
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true })
})

describe('whole-sandbox memory', () => {
  test('health says how memory is limited', async () => {
    await warmUp(app.decorator.services)
    const { body } = await get(app, '/health')
    expect(body.checks.sandbox.memory).toEqual(
      cgroups.kind === 'none'
        ? { limit: 'per process', reason: cgroups.reason }
        : { limit: 'per sandbox', cgroup: cgroups.kind, sandbox_mb: sandboxMemoryBytes(config) >> 20 },
    )
  })

  // Eight children of 100 MB each try to hold their memory at once: 800 MB against a sandbox of 3 x 128 + 4 MB.
  // What counts is what is held at the same time: the kernel may kill an earlier child, and a later one then
  // gets its memory (on cgroup v1 without swap it does), so a child that got its memory and was killed later
  // is not held. Every child reports its pid once it holds its block; held = reported and never killed.
  const forkedHog = [
    'import os, select',
    '@endpoint',
    'def hog():',
    '    done_r, done_w = os.pipe()',
    '    hold_r, hold_w = os.pipe()',
    '    children = set()',
    '    for _ in range(8):',
    '        pid = os.fork()',
    '        if pid == 0:',
    '            os.close(hold_w)',
    '            block = bytearray(100 << 20)',
    '            for i in range(0, len(block), 4096):',
    '                block[i] = 1',
    '            os.write(done_w, b"%d\\n" % os.getpid())',
    '            os.read(hold_r, 1)  # keep it until every child has either got its memory or been killed',
    '            os._exit(0)',
    '        children.add(pid)',
    '    os.close(done_w)',
    '    os.close(hold_r)',
    '    got, dead, pending = set(), set(), b""',
    '    while len(got | dead) < 8:',
    '        if select.select([done_r], [], [], 0.05)[0]:',
    '            pending += os.read(done_r, 4096)',
    '            *lines, pending = pending.split(b"\\n")',
    '            got.update(int(line) for line in lines)',
    '        pid, status = os.waitpid(-1, os.WNOHANG)',
    '        if pid:',
    '            dead.add(pid)',
    // Let go: a child that still holds its block exits normally now. One that reported and was killed since may
    // not be reaped yet (its memory is freed before its parent can see it end): the way it ends tells.
    '    os.close(hold_w)',
    '    held = 0',
    '    for pid in children - dead:',
    '        pid, status = os.waitpid(pid, 0)',
    '        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and pid in got:',
    '            held += 1',
    '        else:',
    '            dead.add(pid)',
    '    return {"held": held, "killed": len(dead)}',
  ].join('\n')

  test.if(cgroups.kind !== 'none')(
    'forked children cannot multiply the memory limit',
    async () => {
      const { body } = await post(app, '/api/execute-endpoint', { pythonCode: forkedHog, endpoint: '/hog' })
      expect(body.success).toBe(true)
      expect(body.result.killed).toBeGreaterThan(0)
      expect(body.result.held * 100).toBeLessThanOrEqual(sandboxMemoryBytes(config) >> 20)
    },
    30_000,
  )

  test.if(cgroups.kind !== 'none')(
    'a learner process the kernel kills for memory is a memory_limit result',
    async () => {
      // Children hold 500 MB in all; the process of the call makes itself the kernel's choice (raising oom_score_adj
      // needs no right, but learner processes are not dumpable, so their /proc files belong to root until a process
      // makes itself dumpable again, which only exposes that process).
      const code = [
        'import os, ctypes',
        '@endpoint',
        'def f():',
        '    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE',
        '    for _ in range(5):',
        '        if os.fork() == 0:',
        '            block = bytearray(100 << 20)',
        '            for i in range(0, len(block), 4096):',
        '                block[i] = 1',
        '            os.read(os.pipe()[0], 1)',
        '    open("/proc/self/oom_score_adj", "w").write("1000")',
        '    os.read(os.pipe()[0], 1)',
      ].join('\n')
      const { body } = await post(app, '/api/execute-endpoint', { pythonCode: code, endpoint: '/f' })
      expect(body).toMatchObject({ success: false, error_type: 'memory_limit' })
    },
    30_000,
  )
})

describe('the group ends every process of a run', () => {
  // Without bubblewrap there is no pid namespace: a daemon that left the process group would outlive the run.
  // Unsandboxed, RLIMIT_NPROC counts every process of uid 65534 on the host (other test files' pooled sandboxes
  // too), so it is lifted here: this test is about the cgroup ending the daemon, not about the process limit.
  const unsandboxed = { SANDBOX: 'auto', EXEC_POOL_SIZE: '0', EXEC_MAX_PROCESSES: '1000000' }
  const bare = testApp({ config: unsandboxed, real: ['runner'], sandbox: sandboxWithoutBwrap(unsandboxed) })

  const daemon = [
    'import os',
    '@endpoint',
    'def f():',
    '    r, w = os.pipe()',
    '    if os.fork() == 0:',
    '        os.setsid()',
    '        pid = os.fork()',
    '        if pid == 0:',
    '            os.closerange(0, 64)',
    '            os.execv("/bin/sleep", ["sleep", "60"])',
    '        os.write(w, str(pid).encode())',
    '        os._exit(0)',
    '    os.close(w)',
    '    return int(os.read(r, 32))',
  ].join('\n')

  const gone = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z')
    } catch {
      return true
    }
  }

  test.if(cgroups.kind !== 'none')('a setsid daemon of an unsandboxed run is killed with the run', async () => {
    const { body } = await post(bare, '/api/execute-endpoint', { pythonCode: daemon, endpoint: '/f' })
    expect(body).toMatchObject({ success: true })
    const pid = body.result as number
    // Signals are sent before the answer; the kernel may take a moment to finish the process (bounded, no sleep).
    const deadline = performance.now() + 3000
    while (!gone(pid) && performance.now() < deadline) await new Promise((resolve) => setImmediate(resolve))
    const survived = !gone(pid)
    if (survived) process.kill(pid, 'SIGKILL')
    expect(survived).toBe(false)
  })
})
