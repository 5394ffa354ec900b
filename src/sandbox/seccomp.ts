/**
 * The seccomp filter of every sandbox: which kernel calls learner code may not make. bubblewrap loads it
 * (`--seccomp FD`) just before it starts the program, so bwrap's own set-up is unaffected and nothing the program
 * starts can shed it. Built here from a readable policy by a small assembler (bpf.ts) instead of libseccomp: the
 * binary stays self-contained, and test/sandbox/seccomp.test.ts tries every denied call in a real sandbox.
 *
 * Why these calls: each is kernel surface a Python exercise never needs and that has a history of privilege
 * escalations, or lets one sandbox reach another (keyrings, tracing). The sandbox already drops capabilities and
 * forbids nested user namespaces (argv.ts); the filter is the second wall, and the one that also covers calls
 * that need no privilege at all (io_uring, userfaultfd, keyctl, perf_event_open).
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ALLOW, assemble, DATA, errno, jumpIf, KILL_PROCESS, label, load, ret, type Item } from './bpf'

const EPERM = 1
const ENOSYS = 38

/** Syscall numbers: x86_64 from asm/unistd_64.h, aarch64 from asm-generic/unistd.h (io_uring and later are shared). */
const SYSCALLS = {
  // create or enter namespaces (a nested user namespace gives full capabilities inside it)
  unshare: [272, 97],
  setns: [308, 268],
  // io_uring: a second syscall interface that bypasses this filter, with many past kernel bugs
  io_uring_setup: [425, 425],
  io_uring_enter: [426, 426],
  io_uring_register: [427, 427],
  // kernel keyrings are per host user: one sandbox could read or plant keys of another
  keyctl: [250, 219],
  add_key: [248, 217],
  request_key: [249, 218],
  // tracing and reading other processes
  ptrace: [101, 117],
  process_vm_readv: [310, 270],
  process_vm_writev: [311, 271],
  process_madvise: [440, 440],
  pidfd_getfd: [438, 438],
  kcmp: [312, 272],
  perf_event_open: [298, 241],
  bpf: [321, 280],
  // userfaultfd stalls the kernel on a page fault: the classic tool for winning kernel races
  userfaultfd: [323, 282],
  // the mount family, old and new API
  mount: [165, 40],
  umount2: [166, 39],
  pivot_root: [155, 41],
  chroot: [161, 51],
  open_tree: [428, 428],
  move_mount: [429, 429],
  fsopen: [430, 430],
  fsconfig: [431, 431],
  fsmount: [432, 432],
  fspick: [433, 433],
  mount_setattr: [442, 442],
  // file handles bypass path permissions (the "shocker" container escape)
  name_to_handle_at: [303, 264],
  open_by_handle_at: [304, 265],
  // kernel modules, kexec and other whole-host operations
  init_module: [175, 105],
  finit_module: [313, 273],
  delete_module: [176, 106],
  kexec_load: [246, 104],
  kexec_file_load: [320, 294],
  reboot: [169, 142],
  swapon: [167, 224],
  swapoff: [168, 225],
  acct: [163, 89],
  quotactl: [179, 60],
  syslog: [103, 116],
  fanotify_init: [300, 262],
  // checked by argument below, not denied outright
  socket: [41, 198],
  socketpair: [53, 199],
  clone: [56, 220],
  clone3: [435, 435],
  personality: [135, 92],
} as const satisfies Record<string, readonly [number, number]>

export type Syscall = keyof typeof SYSCALLS

/** Calls judged by their arguments in policy(); every other call of SYSCALLS is denied outright. */
const BY_ARGUMENT = ['socket', 'socketpair', 'clone', 'clone3', 'personality'] as const
export type DeniedSyscall = Exclude<Syscall, (typeof BY_ARGUMENT)[number]>
export const DENIED = (Object.keys(SYSCALLS) as Syscall[]).filter(
  (name): name is DeniedSyscall => !(BY_ARGUMENT as readonly string[]).includes(name),
)

export const ARCHES = {
  // AUDIT_ARCH_* from linux/audit.h; the index picks the column of SYSCALLS.
  x64: { audit: 0xc000_003e, column: 0, name: 'x86_64', x32: true },
  arm64: { audit: 0xc000_00b7, column: 1, name: 'aarch64', x32: false },
} as const

export type Arch = keyof typeof ARCHES

/** The number of `name` on `arch` (tests call them by number from inside a sandbox). */
export const syscallNumber = (name: Syscall, arch: Arch): number => SYSCALLS[name][ARCHES[arch].column]

/** Address families a program may open: local Unix sockets and IP (the sandbox has only its own loopback). */
const AF_UNIX = 1
const AF_INET = 2
const AF_INET6 = 10
/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (linux/sched.h). */
const CLONE_NEW_ANY = 0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000
/** x32 syscalls are x86_64 calls with this bit set: without this check each denied call had a twin. */
const X32_BIT = 0x4000_0000

/** The filter for one architecture as BPF instructions (readable; see assemble() for the bytes). */
export function policy(arch: Arch): Item[] {
  const { audit, x32 } = ARCHES[arch]
  const nr = (name: Syscall) => syscallNumber(name, arch)
  return [
    // Another ABI (i386 via int 0x80, arm32) numbers its calls differently: this filter cannot judge them.
    load(DATA.arch),
    jumpIf('eq', audit, 0, 'kill'),
    load(DATA.nr),
    ...(x32 ? [jumpIf('ge', X32_BIT, 'deny')] : []),
    // glibc tries clone3 first and falls back to clone on ENOSYS; clone3's flags sit in memory BPF cannot read.
    jumpIf('eq', nr('clone3'), 'enosys'),
    jumpIf('eq', nr('clone'), 'clone'),
    jumpIf('eq', nr('socket'), 'socket'),
    jumpIf('eq', nr('socketpair'), 'socket'),
    jumpIf('eq', nr('personality'), 'personality'),
    ...DENIED.map((name) => jumpIf('eq', nr(name), 'deny')),
    ret(ALLOW),

    // fork and threads yes, new namespaces no.
    label('clone'),
    load(DATA.argLow(0)),
    jumpIf('set', CLONE_NEW_ANY, 'deny', 'allow'),

    // No netlink (netfilter, routing), no packet sockets, no other exotic families.
    label('socket'),
    load(DATA.argLow(0)),
    jumpIf('eq', AF_UNIX, 'allow'),
    jumpIf('eq', AF_INET, 'allow'),
    jumpIf('eq', AF_INET6, 'allow'),
    ret(errno(EPERM)),

    // Reading the personality is fine; changing it (READ_IMPLIES_EXEC, no address randomisation) is not.
    label('personality'),
    load(DATA.argLow(0)),
    jumpIf('eq', 0, 'allow'),
    jumpIf('eq', 0xffff_ffff, 'allow', 'deny'),

    label('allow'),
    ret(ALLOW),
    label('deny'),
    ret(errno(EPERM)),
    label('enosys'),
    ret(errno(ENOSYS)),
    label('kill'),
    ret(KILL_PROCESS),
  ]
}

export interface SeccompFilter {
  /** The architecture the filter was built for. */
  readonly arch: string
  /** A new read-only fd of the compiled filter, positioned at its start (bwrap reads it to the end); close it after spawning. */
  open(): number
}

/**
 * The filter for this machine (built once per process), or null on an architecture we have no syscall table
 * for. The bytes are written to a file that is unlinked at once; one fd keeps it alive, and each sandbox gets
 * its own fresh description through /proc/self/fd (a shared one would share the read position between
 * concurrent spawns).
 */
export function hostSeccompFilter(arch: string = process.arch): SeccompFilter | null {
  if (!(arch in ARCHES)) return null
  return (built[arch] ??= build(arch as Arch))
}

const built: Record<string, SeccompFilter> = {}

function build(arch: Arch): SeccompFilter {
  const dir = mkdtempSync(join(tmpdir(), 'ai-tutor-seccomp-')) // mode 0700
  const path = join(dir, 'filter.bpf')
  writeFileSync(path, assemble(policy(arch)), { mode: 0o400 })
  const keep = openSync(path, 'r')
  rmSync(dir, { recursive: true })
  return { arch: ARCHES[arch].name, open: () => openSync(`/proc/self/fd/${keep}`, 'r') }
}

/** Closes an fd we are done with (one handed to a child, which has its own copy); null or already closed: nothing. */
export function closeQuietly(fd: number | null) {
  if (fd === null) return
  try {
    closeSync(fd)
  } catch {
    // already closed
  }
}
