/**
 * Jobs forked from the warm zygote (src/sandbox/zygote.py) are as walled off as bubblewrap sandboxes: each starts
 * from a state no earlier job touched (nothing of an earlier job is even in its memory), two jobs at once can
 * neither see nor signal each other, and the box has the same walls (no capabilities, no_new_privs, the seccomp
 * filter, its own namespaces, a read-only root). Real app, real zygote. Needs root (the zygote switches uids):
 * elsewhere every job starts through bubblewrap and these tests skip.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { readFileSync, rmSync } from 'node:fs'
import { closeServices, createApp } from '../../src/app'
import { DENIED } from '../../src/sandbox/seccomp'
import { BY_ARGUMENT, deniedCalls, EPERM, TRY_CALLS } from '../sandbox/denied-calls'
import { createLocalRunner } from '../../src/execution/local-runner'
import { createLogger } from '../../src/logging'
import { createSandbox, type Sandbox } from '../../src/sandbox'
import { testConfig } from '../support/config'
import { get, post } from '../support/http'
import { liveChildren, ownZygotes } from '../support/process'

const app = createApp({ config: testConfig({ EXEC_TIMEOUT_MS: '4000', EXEC_POOL_SIZE: '1' }) })
afterAll(() => app.decorator.services.runner.close())

const call = async (body: string, args: Record<string, unknown> = {}) =>
  (
    await post(app, '/api/execute-endpoint', {
      pythonCode: `import os, sys\n@endpoint\ndef f(**kw):\n${indent(body)}`,
      endpoint: '/f',
      args,
    })
  ).body

const indent = (body: string) =>
  body
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n')

// Zygotes of other apps in this test process (files that ran before this one) are not this app's.
const foreign = new Set(ownZygotes())
await call('return 1') // the runner is ready: /health now says how jobs start
const warm = (await get(app, '/health')).body.checks.execution.start === 'zygote'
if (!warm) console.warn('warm-isolation: skipped, jobs start through bubblewrap here (not root, or no sandbox)')

describe.skipIf(!warm)('a job forked from the zygote', () => {
  test('holds nothing of an earlier job in its memory: code, arguments and hidden tests of others are gone', async () => {
    const secret = `earlier-job-${crypto.randomUUID()}`
    expect((await call(`return kw["s"] + ${JSON.stringify(secret)}`, { s: secret })).success).toBe(true)
    const batch = await post(app, '/api/execute-test-cases', {
      backendCode: '@endpoint\ndef g(x):\n    return x',
      testCases: [{ name: 'hidden', endpoint: '/g', input: { x: 1 }, expected: secret }],
    })
    expect(batch.status).toBe(200)
    // The next job searches every readable page of its own process for the secret. It may not hold the secret
    // itself to do so (it would find its own copy): it looks for the first half, then compares a hash of what
    // follows with the hash of the second half.
    const search = [
      // A job is not dumpable after its uid switch (its /proc/self is root's); it may make itself dumpable again.
      'import ctypes, hashlib',
      'ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)',
      'head = bytes(int(c) for c in kw["head"].split(","))',
      'found = 0',
      'with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:',
      '    for line in maps:',
      '        span, perms = line.split()[:2]',
      '        if not perms.startswith("r") or "[v" in line:',
      '            continue',
      '        start, end = (int(x, 16) for x in span.split("-"))',
      '        try:',
      '            mem.seek(start)',
      '            data = mem.read(end - start)',
      '        except OSError:',
      '            continue',
      '        at = data.find(head)',
      '        while at >= 0:',
      '            rest = data[at + len(head):at + len(head) + kw["rest"]]',
      '            found += hashlib.sha256(rest).hexdigest() == kw["hash"]',
      '            at = data.find(head, at + 1)',
      'return found',
    ].join('\n')
    const bytes = new TextEncoder().encode(secret)
    const half = bytes.length >> 1
    const args = {
      head: [...bytes.subarray(0, half)].join(','),
      rest: bytes.length - half,
      hash: new Bun.CryptoHasher('sha256').update(bytes.subarray(half)).digest('hex'),
    }
    expect(await call(search, args)).toMatchObject({ success: true, result: 0 })
    // The search does find what is there: the secret among its own arguments.
    expect((await call(search, { ...args, also: secret })).result).toBeGreaterThan(0)
  })

  test('starts from the state the zygote had: what an earlier job changed is not there', async () => {
    const change = [
      'import json, builtins',
      'json.marker = "changed"',
      'builtins.marker = "changed"',
      'sys.path.insert(0, "/tmp/evil")',
      'os.environ["MARKER"] = "changed"',
      'open("/tmp/marker", "w").write("changed")',
      'return "done"',
    ].join('\n')
    expect((await call(change)).result).toBe('done')
    const look = [
      'import json, builtins',
      'return [hasattr(json, "marker"), hasattr(builtins, "marker"), "/tmp/evil" in sys.path,',
      '        "MARKER" in os.environ, os.path.exists("/tmp/marker")]',
    ].join('\n')
    expect((await call(look)).result).toEqual([false, false, false, false, false])
  })

  test('two jobs at once neither see nor signal each other, and run as different uids', async () => {
    const holder = call('import time\ntime.sleep(2.5)\nreturn [os.getuid(), os.getpid(), sorted(os.listdir("/proc"))]')
    // The zygote's children are the boxes: wait until the holder's box runs (no sleeping on time).
    const probe = [
      'pids = [p for p in os.listdir("/proc") if p.isdigit()]',
      'killed = []',
      'for pid in range(2, 400):',
      '    try:',
      '        os.kill(pid, 9)',
      '        killed.append(pid)',
      '    except OSError:',
      '        pass',
      'return [os.getuid(), os.getpid(), sorted(pids), killed]',
    ].join('\n')
    await untilBoxes(2)
    const other = await call(probe)
    const held = await holder
    expect(held.success).toBe(true)
    const [holderUid, holderPid] = held.result
    const [uid, pid, pids, killed] = other.result
    expect(pid).toBe(1) // pid 1 of its own pid namespace
    expect(holderPid).toBe(1)
    expect(pids).toEqual(['1']) // nothing of the other job, nor of the host
    expect(killed).toEqual([])
    expect(uid).not.toBe(holderUid)
    expect(uid).not.toBe(0)
  })

  test('has the walls of a bubblewrap sandbox', async () => {
    const look = [
      'status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)',
      'mounts = sorted(line.split()[4] for line in open("/proc/self/mountinfo"))',
      'import ctypes',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'unshared = libc.unshare(0x10000000)  # a user namespace: the way back to capabilities',
      'names = [line.split(":")[0].strip() for line in open("/proc/net/dev").read().splitlines()[2:]]',
      'return {"caps": [status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")],',
      '        "nnp": status["NoNewPrivs"].strip(), "seccomp": status["Seccomp"].strip(),',
      '        "mounts": mounts, "root_writable": os.access("/", os.W_OK), "unshare": [unshared, ctypes.get_errno()],',
      '        "host": os.uname().nodename, "cgroup": open("/proc/self/cgroup").read().split(":")[-1].strip(),',
      '        "interfaces": names, "groups": os.getgroups(), "sid": os.getsid(0) == os.getpid()}',
    ].join('\n')
    const body = await call(look)
    expect(body).toMatchObject({ success: true })
    const { result } = body
    expect(result.caps).toEqual(Array(5).fill('0000000000000000'))
    expect(result).toMatchObject({ nnp: '1', seccomp: '2', root_writable: false, host: 'sandbox', cgroup: '/' })
    expect(result.unshare).toEqual([-1, 1]) // EPERM from the seccomp filter
    expect(result.mounts.filter((m: string) => !m.startsWith('/tmp/tutor-harness-'))).toEqual([
      '/',
      '/proc',
      '/tmp',
      '/usr',
    ])
    expect(result.interfaces).toEqual(['lo'])
    expect(result.groups).toEqual([])
    expect(result.sid).toBe(true)
  })

  test('makes every call the seccomp filter denies fail as in a bubblewrap sandbox', async () => {
    const arch = process.arch === 'arm64' ? 'arm64' : 'x64'
    const body = [
      'import contextlib, io, json',
      'sys.argv = ["calls", kw["calls"]]',
      'out = io.StringIO()',
      'with contextlib.redirect_stdout(out):',
      '    exec(kw["program"], {"__name__": "calls"})',
      'return json.loads(out.getvalue())',
    ].join('\n')
    const reply = await call(body, { calls: JSON.stringify(deniedCalls(arch)), program: TRY_CALLS })
    expect(reply.success).toBe(true)
    for (const name of DENIED) expect([name, reply.result[name]]).toEqual([name, EPERM])
    for (const [label, , , expected] of BY_ARGUMENT) expect([label, reply.result[label]]).toEqual([label, expected])
  })

  test('a stage folder removed on the host (a /tmp cleaner) costs a new zygote, not the jobs', async () => {
    const [zygote] = zygotePids()
    const stage = JSON.parse(readFileSync(`/proc/${zygote}/cmdline`, 'utf8').split('\0').filter(Boolean).at(-1)!).stage
    rmSync(stage, { recursive: true })
    for (const n of [1, 2, 3]) expect((await call(`return ${n}`)).result).toBe(n)
    expect(zygotePids().filter((pid) => pid !== zygote)).toHaveLength(1) // the new one
    // The old one starts no more boxes and leaves once its last job has ended: a box it built before the folder
    // went may still wait in the pool, and serves a call as well as any.
    for (let n = 4; n < 8; n++) expect((await call(`return ${n}`)).result).toBe(n)
    while (zygotePids().includes(zygote!)) await new Promise((resolve) => setImmediate(resolve))
  })

  test('a killed zygote is started again, and nothing of its jobs is left', async () => {
    const zygotes = zygotePids()
    expect(zygotes.length).toBe(1)
    const running = call('import time\ntime.sleep(20)\nreturn "finished"')
    await untilBoxes(2) // the running job and the pooled one
    process.kill(zygotes[0]!, 'SIGKILL')
    const killed = await running
    expect(killed.success).toBe(false) // its box died with the zygote
    // At once, not at the call's time limit: a box whose uid switch had cleared its parent-death signal ran on.
    expect(killed.error_type).toBe('runtime_error')
    expect((await call('return 2')).result).toBe(2)
    expect(zygotePids().length).toBe(1)
    expect(zygotePids()[0]).not.toBe(zygotes[0])
  })
})

/** This app's zygotes: those of other apps in this test process excepted. */
const zygotePids = () => ownZygotes().filter((pid) => !foreign.has(pid))

/** Waits (turn by turn of the event loop) until the zygote has at least `count` live boxes. */
async function untilBoxes(count: number) {
  while (zygotePids().flatMap((zygote) => liveChildren(zygote)).length < count)
    await new Promise((resolve) => setImmediate(resolve))
}

describe.skipIf(!warm)('a zygote that cannot start', () => {
  test('leaves every job to bubblewrap, with one warning', async () => {
    const config = testConfig({ EXEC_POOL_SIZE: '0' })
    const lines: string[] = []
    const logger = createLogger('warn', (line) => lines.push(line))
    const real = createSandbox({ config, logger })
    // A payload that is not there: the zygote ends before it is ready.
    const sandbox: Sandbox = { ...real, warm: (payload) => real.warm({ ...payload, script: '/nonexistent.pyc' }) }
    const broken = createApp({ config, logger, sandbox, runner: createLocalRunner({ config, logger, sandbox }) })
    try {
      for (const n of [1, 2, 3]) {
        const { body } = await post(broken, '/api/execute-endpoint', {
          pythonCode: `@endpoint\ndef f():\n    return ${n}`,
          endpoint: '/f',
        })
        expect(body).toMatchObject({ success: true, result: n })
      }
      expect((await get(broken, '/health')).body.checks.execution.start).toBe('bubblewrap')
      expect(lines.filter((line) => line.includes('zygote cannot start'))).toHaveLength(1)
    } finally {
      await closeServices(broken.decorator.services)
    }
  })
})
