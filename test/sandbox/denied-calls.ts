/**
 * The calls the seccomp filter (src/sandbox/seccomp.ts) denies, with harmless arguments, and a Python program that
 * tries them by number: shared by the tests of a bubblewrap sandbox (seccomp.test.ts) and of a job forked from the
 * zygote (test/execution/warm-isolation.test.ts).
 */
import { DENIED, syscallNumber, type Arch, type DeniedSyscall, type Syscall } from '../../src/sandbox/seccomp'

export const EPERM = 1
export const ENOSYS = 38
/**
 * Arguments for each call: harmless values that, without the filter, mostly give an answer other than EPERM
 * (a new fd, EBADF, EINVAL), so EPERM shows the filter at work. "s:text" is a C string, "buf" a zeroed 4 KB
 * buffer. A call that needs a capability answers EPERM either way; the interpreter test below covers those.
 */
const ARGS: Record<DeniedSyscall, (number | string)[]> = {
  unshare: [0x1000_0000], // CLONE_NEWUSER
  setns: [0, 0],
  io_uring_setup: [8, 'buf'],
  io_uring_enter: [-1, 0, 0, 0, 0, 0],
  io_uring_register: [-1, 0, 0, 0],
  keyctl: [0, -4, 0], // KEYCTL_GET_KEYRING_ID of the user keyring
  add_key: ['s:user', 's:planted', 's:x', 1, -3],
  request_key: ['s:user', 's:planted', 0, 0],
  ptrace: [0, 0, 0, 0], // PTRACE_TRACEME
  process_vm_readv: ['pid', 0, 0, 0, 0, 0],
  process_vm_writev: ['pid', 0, 0, 0, 0, 0],
  process_madvise: [-1, 0, 0, 0, 0],
  pidfd_getfd: [-1, 0, 0],
  kcmp: ['pid', 'pid', 0, 0, 0],
  perf_event_open: ['buf', 0, -1, -1, 0],
  bpf: [0, 'buf', 0],
  userfaultfd: [1], // UFFD_USER_MODE_ONLY: allowed to anyone without the filter
  mount: ['s:none', 's:/tmp', 's:tmpfs', 0, 0],
  umount2: ['s:/tmp', 0],
  pivot_root: ['s:/tmp', 's:/tmp'],
  chroot: ['s:/tmp'],
  open_tree: [-100, 's:/tmp', 0], // needs no privilege without the filter
  move_mount: [-1, 's:', -1, 's:', 0],
  fsopen: ['s:tmpfs', 0],
  fsconfig: [-1, 0, 0, 0, 0],
  fsmount: [-1, 0, 0],
  fspick: [-100, 's:/tmp', 0],
  mount_setattr: [-1, 's:', 0, 0, 0],
  name_to_handle_at: [-100, 's:/tmp', 'buf', 'buf', 0],
  open_by_handle_at: [-100, 'buf', 0],
  init_module: [0, 0, 's:'],
  finit_module: [-1, 's:', 0],
  delete_module: ['s:nothing', 0],
  kexec_load: [0, 0, 0, 0],
  kexec_file_load: [-1, -1, 0, 's:', 0],
  reboot: [0, 0, 0, 0],
  swapon: ['s:/tmp', 0],
  swapoff: ['s:/tmp'],
  acct: [0],
  quotactl: [0, 's:', 0, 0],
  syslog: [3, 'buf', 16],
  fanotify_init: [0, 0],
}

/** More calls by argument: [label, syscall, args, expected errno or 'allowed']. */
export const BY_ARGUMENT: [string, Syscall, (number | string)[], number | 'allowed'][] = [
  ['clone with CLONE_NEWUSER', 'clone', [0x1000_0000 | 17, 0, 0, 0, 0], EPERM],
  ['clone with CLONE_NEWNET', 'clone', [0x4000_0000 | 17, 0, 0, 0, 0], EPERM],
  ['clone3 (glibc falls back to clone)', 'clone3', ['buf', 88], ENOSYS],
  ['socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER)', 'socket', [16, 3, 12], EPERM],
  ['socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)', 'socket', [16, 3, 0], EPERM],
  ['socket(AF_PACKET, SOCK_RAW)', 'socket', [17, 3, 0], EPERM],
  ['socketpair(AF_NETLINK)', 'socketpair', [16, 3, 0, 'buf'], EPERM],
  ['personality(READ_IMPLIES_EXEC)', 'personality', [0x040_0000], EPERM],
  ['personality(ADDR_NO_RANDOMIZE)', 'personality', [0x004_0000], EPERM],
  ['socket(AF_INET, SOCK_STREAM)', 'socket', [2, 1, 0], 'allowed'],
  ['socket(AF_INET6, SOCK_DGRAM)', 'socket', [10, 2, 0], 'allowed'],
  ['socket(AF_UNIX, SOCK_STREAM)', 'socket', [1, 1, 0], 'allowed'],
  ['personality query', 'personality', [0xffff_ffff], 'allowed'],
]

/** Tries each call by number and prints {label: errno or "allowed"}; a child made by an allowed clone leaves at once. */
export const TRY_CALLS = `
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
buf = ctypes.create_string_buffer(4096)
def arg(a):
    if a == "buf": return ctypes.cast(buf, ctypes.c_void_p)
    if a == "pid": return ctypes.c_long(os.getpid())
    if isinstance(a, str): return ctypes.c_char_p(a[2:].encode())
    return ctypes.c_long(a)
out = {}
for label, nr, args in json.loads(sys.argv[1]):
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(nr), *[arg(a) for a in args])
    if result == 0 and label.startswith("clone"):
        os._exit(0)
    out[label] = ctypes.get_errno() if result == -1 else "allowed"
print(json.dumps(out))
`

/** [label, number, args] of every call to try on `arch`: the denied ones, then those checked by argument. */
export const deniedCalls = (arch: Arch) => [
  ...DENIED.map((name) => [name, syscallNumber(name, arch), ARGS[name]] as const),
  ...BY_ARGUMENT.map(([label, name, args]) => [label, syscallNumber(name, arch), args] as const),
]
