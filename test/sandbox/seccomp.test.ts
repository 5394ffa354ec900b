/**
 * The kernel surface of a sandbox (src/sandbox/seccomp.ts, argv.ts): every call the filter denies is tried
 * from inside a real sandbox, ordinary Python keeps working, nested user namespaces stay impossible even
 * without the filter, and the host name is not the host's. The policy is also run through a small BPF
 * interpreter for both architectures, so the aarch64 table is checked on an x86_64 machine too.
 */
import { describe, expect, test } from 'bun:test'
import { dropRootPrefix, sandboxArgv } from '../../src/sandbox/argv'
import { ALLOW, assemble, errno, KILL_PROCESS } from '../../src/sandbox/bpf'
import { DENIED, policy, syscallNumber, type Arch, type Syscall } from '../../src/sandbox/seccomp'
import { realSandbox, runPython } from './boxed'
import { BY_ARGUMENT, deniedCalls, ENOSYS, EPERM, TRY_CALLS } from './denied-calls'

const HOST: Arch = process.arch === 'arm64' ? 'arm64' : 'x64'
const { sandbox, state } = await realSandbox()
const sandboxed = state.sandboxed
const calls = deniedCalls(HOST)

const answers: Record<string, number | 'allowed'> = sandboxed
  ? await runPython(sandbox, TRY_CALLS, [JSON.stringify(calls)])
  : {}

/** A skipped test's title says why it cannot run here. */
const unless = (title: string, why: string | null) => (why ? `${title} (skipped: ${why})` : title)
const noSandbox = sandboxed ? null : `no working bubblewrap here: ${state.probe.reason ?? 'not found'}`
const bwrapLetsUsernsThrough =
  noSandbox ??
  (state.probe.disables_userns === true
    ? null
    : `bubblewrap ${state.probe.version ?? '(unknown version)'} has no --disable-userns (0.8.0+); the filter alone forbids nested namespaces`)

describe.skipIf(noSandbox !== null)(unless('inside a real sandbox', noSandbox), () => {
  test.each(DENIED)('%s is denied (EPERM)', (name) => {
    expect(answers[name]).toBe(EPERM)
  })

  test.each(BY_ARGUMENT)('%s', (label, _name, _args, expected) => {
    expect(answers[label]).toBe(expected)
  })

  test('the filter is loaded, no capability is left, and no fd of it is left open', async () => {
    const status = await runPython(
      sandbox,
      [
        'import json, os',
        'lines = open("/proc/self/status").read().splitlines()',
        'fields = [l.split(":")[1].strip() for l in lines if l.startswith(("Seccomp:", "NoNewPrivs:", "CapEff:"))]',
        'print(json.dumps(fields + [sorted(os.listdir("/proc/self/fd"))]))',
      ].join('\n'),
    )
    // fd 3 is the listing's own directory: the filter's fd (3 for a spawn without extra pipes) is closed.
    expect(status).toEqual(['0000000000000000', '1', '2', ['0', '1', '2', '3']])
  })

  test("the filter's fd comes after the caller's own pipes, whatever their number", async () => {
    const source =
      'import os\nos.write(3, b"three")\nos.write(4, open("/proc/self/status").read().split("Seccomp:")[1].split()[0].encode())'
    const box = sandbox.spawn(['/usr/bin/python3', '-I', '-S', '-c', source], { memoryBytes: 256 << 20, fds: 2 })
    box.proc.stdin.end()
    const read = (fd: number) => new Response(Bun.file(fd).stream()).text()
    const [three, four] = await Promise.all([
      read(box.proc.stdio[3] as number),
      read(box.proc.stdio[4] as number),
      box.proc.exited,
    ])
    box.release()
    expect([three, four]).toEqual(['three', '2'])
  })

  test('ordinary Python keeps working: threads, fork, a shell, socketpair, loopback TCP, multiprocessing', async () => {
    const result = await runPython(
      sandbox,
      `
import json, multiprocessing, os, socket, subprocess, threading
out = {}
box = []
t = threading.Thread(target=lambda: box.append(1)); t.start(); t.join()
out["thread"] = box == [1]
pid = os.fork()
if pid == 0: os._exit(7)
out["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
out["shell"] = subprocess.run(["/bin/sh", "-c", "echo hi"], capture_output=True, text=True).stdout
a, b = socket.socketpair(); a.sendall(b"pair"); out["socketpair"] = b.recv(4).decode()
server = socket.create_server(("127.0.0.1", 0)); client = socket.create_connection(server.getsockname())
conn, _ = server.accept(); client.sendall(b"tcp"); out["tcp"] = conn.recv(3).decode()
p = multiprocessing.get_context("fork").Process(target=os._exit, args=(3,)); p.start(); p.join()
out["multiprocessing"] = p.exitcode
print(json.dumps(out))
`,
    )
    expect(result).toEqual({ thread: true, fork: 7, shell: 'hi\n', socketpair: 'pair', tcp: 'tcp', multiprocessing: 3 })
  })

  test('learner code sees no host name', async () => {
    const source =
      'import json, os, socket\nprint(json.dumps([os.uname().nodename, socket.gethostname(), open("/proc/sys/kernel/hostname").read().strip()]))'
    const names = await runPython(sandbox, source)
    expect(names).toEqual(['sandbox', 'sandbox', 'sandbox'])
  })
})

// bubblewrap before 0.8.0 has no --disable-userns; there the filter alone forbids nested namespaces.
test.skipIf(bwrapLetsUsernsThrough !== null)(
  unless('nested user namespaces are impossible even without the filter', bwrapLetsUsernsThrough),
  async () => {
    const unshare =
      'import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nprint(libc.unshare(0x10000000), ctypes.get_errno())'
    const program = ['/usr/bin/python3', '-I', '-S', '-c', unshare]
    const argv = [...dropRootPrefix(100_000 - 1, null), ...sandboxArgv(program, { tmpfsBytes: 1 << 20 })]
    const proc = Bun.spawn(argv, { env: {}, stdout: 'pipe', stderr: 'pipe' })
    const [out, err] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ])
    expect({ out: out.trim(), err }).toEqual({ out: '-1 28', err: '' }) // ENOSPC: the namespace limit is 0 inside
  },
)

/** Runs a classic-BPF program over one `struct seccomp_data`, as the kernel would. */
function verdict(program: Uint8Array, arch: number, nr: number, args: number[] = []): number {
  const data = new DataView(new ArrayBuffer(64))
  data.setUint32(0, nr, true)
  data.setUint32(4, arch, true)
  for (const [i, value] of args.entries()) data.setUint32(16 + 8 * i, value >>> 0, true)
  const code = new DataView(program.buffer)
  let a = 0
  for (let pc = 0; pc < program.length / 8; pc++) {
    const at = pc * 8
    const [op, jt, jf, k] = [
      code.getUint16(at, true),
      code.getUint8(at + 2),
      code.getUint8(at + 3),
      code.getUint32(at + 4, true),
    ]
    if (op === 0x20) a = data.getUint32(k, true)
    else if (op === 0x06) return k
    else if (op === 0x15) pc += a === k ? jt : jf
    else if (op === 0x35) pc += a >= k ? jt : jf
    else if (op === 0x45) pc += (a & k) !== 0 ? jt : jf
    else throw new Error(`unknown opcode ${op}`)
  }
  throw new Error('fell off the end')
}

describe.each([
  ['x64', 0xc000_003e, 0x4000_0003, 0], // foreign: i386; read is 0
  ['arm64', 0xc000_00b7, 0x4000_0028, 63], // foreign: arm32; read is 63
] as const)('the policy on %s', (arch, audit, foreign, read) => {
  const program = assemble(policy(arch))
  const run = (name: Syscall, args: number[] = []) => verdict(program, audit, syscallNumber(name, arch), args)

  test('every denied call is EPERM, whatever its arguments', () => {
    for (const name of DENIED) expect([name, run(name, [0, 1, 2])]).toEqual([name, errno(EPERM)])
  })

  test('ordinary calls, fork and the three socket families pass; namespaces, clone3 and other families do not', () => {
    expect(verdict(program, audit, read)).toBe(ALLOW)
    expect(run('clone', [0x01200011])).toBe(ALLOW) // glibc fork: CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD
    expect(run('clone', [0x003d0f00])).toBe(ALLOW) // pthread_create's flags
    expect(run('clone', [0x1000_0011])).toBe(errno(EPERM))
    expect(run('clone', [0x0002_0011])).toBe(errno(EPERM)) // CLONE_NEWNS
    expect(run('clone3')).toBe(errno(ENOSYS))
    for (const family of [1, 2, 10]) expect(run('socket', [family, 1, 0])).toBe(ALLOW)
    for (const family of [16, 17, 38, 40]) expect(run('socket', [family, 1, 0])).toBe(errno(EPERM)) // netlink, packet, alg, vsock
    expect(run('personality', [0xffff_ffff])).toBe(ALLOW)
    expect(run('personality', [0x040_0000])).toBe(errno(EPERM))
  })

  test('another ABI of the same machine is killed (its numbers mean other calls)', () => {
    expect(verdict(program, foreign, 1)).toBe(KILL_PROCESS)
  })

  test.skipIf(arch !== 'x64')(
    unless('x32 twins of the calls are denied', arch === 'x64' ? null : 'only x86_64 has an x32 ABI'),
    () => {
      expect(verdict(program, audit, 0x4000_0000 + syscallNumber('unshare', 'x64'))).toBe(errno(EPERM))
      expect(verdict(program, audit, 0x4000_0000)).toBe(errno(EPERM))
    },
  )
})
