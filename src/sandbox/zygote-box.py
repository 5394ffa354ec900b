# The box of a job forked from the zygote (src/sandbox/zygote.py; src/sandbox/zygote.ts puts this file first):
# the root every box copies, each job's own root, and the switch from root to the job's uid with nothing left.
# The walls are bubblewrap's (src/sandbox/argv.ts); docs/api.md, "How a job's sandbox starts", lists the differences.
import os
import ctypes
import fcntl
import resource
import _socket
import _struct

libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS = 1, 24, 22, 38
SECCOMP_MODE_FILTER = 2
SETUP_FAILED = 71  # the exit status of a job whose box could not be built (EX_OSERR)
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}[os.uname().machine]


def check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, "%s: %s" % (what, os.strerror(errno)))


def mount(source, target, fstype, flags, data=None):
    check(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), flags,
                     data and data.encode()), "mount " + target)


class FilterProgram(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def read_filter():
    """The compiled seccomp filter on fd 3 (8 bytes per instruction), or None without one."""
    try:
        chunks = []
        while True:
            chunk = os.read(3, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(3)
    except OSError:
        return None
    data = b"".join(chunks)
    return data or None


FILTER = read_filter()
FILTER_BUFFER = ctypes.create_string_buffer(FILTER) if FILTER else None
SECCOMP_PROGRAM = (ctypes.byref(FilterProgram(len(FILTER) // 8, ctypes.addressof(FILTER_BUFFER)))
                   if FILTER else None)
ALL_CAPS = tuple(range(int(open("/proc/sys/kernel/cap_last_cap").read()) + 1))
PRCTL = libc.prctl
SIOCSIFFLAGS, IFF_UP, IFF_LOOPBACK = 0x8914, 0x1, 0x8
LOOPBACK_UP = _struct.pack("16sh14x", b"lo", IFF_UP | IFF_LOOPBACK)
# A job's fixed environment, as bubblewrap's --setenv gives it: set here once, so every job inherits it.
os.environ.clear()
os.environ.update({"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "PWD": "/tmp"})


def build_template():
    """Once, in the zygote's own mount namespace (private, so the host never sees it): the part of a box's root that
    is the same for every job, as src/sandbox/argv.ts gives bubblewrap's: /usr read-only, the usual symlinks, a
    minimal /dev, the READ_ONLY paths, all read-only. A job copies it with its mount namespace and adds its own /tmp
    and /proc (build_root)."""
    check(libc.unshare(CLONE_NEWNS), "unshare mount namespace")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    # Shown read-only in our namespace first: a job's bind of them is then read-only too (a bind keeps the flags).
    for path in READ_ONLY:
        mount(path, path, None, MS_BIND | MS_REC)
        mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    mount("tmpfs", STAGE, "tmpfs", MS_NOSUID, "size=64k,mode=0755")
    for folder in ("usr", "tmp", "proc", "dev"):
        os.mkdir(STAGE + "/" + folder)
    mount("/usr", STAGE + "/usr", None, MS_BIND | MS_REC)
    mount(None, STAGE + "/usr", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    for link, target in (("lib", "usr/lib"), ("lib64", "usr/lib64"), ("bin", "usr/bin")):
        os.symlink(target, STAGE + "/" + link)
    for name, major, minor in (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
                               ("urandom", 1, 9), ("tty", 5, 0)):
        os.mknod(STAGE + "/dev/" + name, 0o20666, os.makedev(major, minor))
        os.chmod(STAGE + "/dev/" + name, 0o666)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, STAGE + "/dev/" + name)
    os.mkdir(STAGE + "/dev/shm")
    for path in READ_ONLY:
        if not in_tmp(path):
            os.makedirs(STAGE + path, exist_ok=True)
    # The root (and /dev with it) read-only: a job's /tmp, size-limited, is its only writable place.
    mount(None, STAGE, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)


def in_tmp(path):
    return path == "/tmp" or path.startswith("/tmp/")


def job_mounts():
    """What build_root() mounts, worked out once in the zygote: every string a job would otherwise make is a page
    a forked job would fault in. (folders to make in the job's /tmp, [(source, target, type, flags)])."""
    stage = STAGE.encode()
    folders, binds = [], []
    for path in READ_ONLY:
        if in_tmp(path):
            parts = path.split("/")[2:]  # below /tmp, which is the job's own
            folders += [stage + b"/tmp/" + "/".join(parts[:n]).encode() for n in range(1, len(parts) + 1)]
        binds.append((path.encode(), stage + path.encode(), None, MS_BIND | MS_REC))  # read-only already
    return stage, tuple(folders), tuple(binds)


def build_root(request):
    """The job's file system: a copy of the template (our mount namespace, unshared by the caller), its own /tmp
    and /proc, then the template becomes its root and nothing else of ours stays reachable."""
    stage, folders, binds = JOB_MOUNTS
    uid = request["uid"]
    options = b"size=%d,mode=0700,uid=%d,gid=%d" % (request["tmpfs"], uid, uid)
    check(libc.mount(b"tmpfs", stage + b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, options), "mount /tmp")
    check(libc.mount(b"proc", stage + b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "mount /proc")
    for folder in folders:
        os.mkdir(folder)
    for source, target, kind, flags in binds:
        check(libc.mount(source, target, kind, flags, None), "mount a read-only path")
    os.chdir(stage)
    check(libc.syscall(PIVOT_ROOT, b".", b"."), "pivot_root")
    check(libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def become_job(request):
    """Root to the job's uid with nothing left: no capabilities (also none to regain), no_new_privs, the filter.
    Every object used here was made in the zygote: each new object or call path costs a forked job page faults."""
    uid = request["uid"]
    check(libc.sethostname(b"sandbox", 7), "sethostname")
    # The network namespace's own loopback, up as bubblewrap brings it up: the only network a job has.
    probe = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    fcntl.ioctl(probe.fileno(), SIOCSIFFLAGS, LOOPBACK_UP)
    probe.close()
    if request["nproc"]:
        resource.setrlimit(resource.RLIMIT_NPROC, (request["nproc"], request["nproc"]))
    for cap in ALL_CAPS:
        PRCTL(PR_CAPBSET_DROP, cap, 0, 0, 0)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    # A change of uid clears the parent-death signal set after the fork: set again, or a job would outlive a
    # zygote that was killed (it would run on until the server's time limit or its cgroup ended it).
    check(PRCTL(PR_SET_PDEATHSIG, 9, 0, 0, 0), "pdeathsig")  # SIGKILL
    check(PRCTL(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if SECCOMP_PROGRAM is not None:
        check(PRCTL(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, SECCOMP_PROGRAM, 0, 0), "seccomp")
    if request["env"]:
        os.environ.update(request["env"])  # the fixed part is the zygote's own (set at its start)
    os.chdir("/tmp")
