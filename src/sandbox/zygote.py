# The sandbox's zygote (src/sandbox/zygote.ts starts it, as root, with an empty environment): one warm interpreter
# that has loaded the payload (the execution harness's bytecode), the modules it imports and its definitions once,
# and forks once per job into a box as tight as the one bubblewrap builds (src/sandbox/argv.ts): fresh mount, pid,
# network, IPC, UTS and cgroup namespaces, a root of its own (read-only /usr, a size-limited private /tmp, /proc of
# its own pid namespace, a minimal /dev), the job's own cgroup, the job's own host uid, no capabilities,
# no_new_privs and the seccomp filter of src/sandbox/seccomp.ts. Then the payload runs in the forked process: no
# new interpreter starts.
#
# Why this is as isolated as a bubblewrap start:
# - The zygote never runs learner code and never sees a job: a job's text goes from the server straight into the
#   job's own pipe, so no job's code or hidden tests are ever in the memory the next job is forked from. Every job
#   starts from the same state, the one the zygote had before its first job.
# - It has nothing secret to inherit: an empty environment, and only our own code and constants in its memory.
# - The job is forked straight into a new pid namespace (it is pid 1 there: when it ends, the kernel ends every
#   process it started). Before anything else it closes every descriptor but its five pipes, so no job holds
#   another's pipe or the zygote's control channel.
# - The seccomp filter goes on last, after the uid switch and no_new_privs: learner code starts under it and
#   cannot remove it.
#
# Protocol (one JSON object per line): requests on fd 0, events on fd 1; the seccomp filter on fd 3 at start.
#   {"op": "spawn", "id", "uid", "procs": [cgroup.procs files], "tmpfs": bytes, "nproc": n or null, "env": {…}}
#     -> {"id", "pid", "fds": [stdin write end, stdout, stderr, channel read ends]} (fds of this process: the
#        server opens them through /proc/<zygote>/fd/N and then says "opened") or {"id", "error"} (with
#        "retire": true once the zygote starts no more boxes: it leaves when the last of its jobs has ended)
#     -> later {"id", "exit": status} or {"id", "signal": number}, with "cpu_ms" and "built" (its box was built
#        and the payload started: a job that was not built ran nothing) once the job is reaped
#   {"op": "opened", "id"}: the zygote closes its copies of that job's ends.
import os
import sys
import json
import signal
import select
import marshal
import ctypes
import builtins
import gc
import fcntl
import resource
import time
import _socket
import _struct

SETTINGS = json.loads(sys.argv[1])

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

# The payload and everything it imports, loaded once; gc.freeze() keeps the collector from touching (and so
# copying) these pages in every forked job.
with open(SETTINGS["payload"], "rb") as payload_file:
    PAYLOAD = marshal.loads(payload_file.read()[16:])
for name in SETTINGS.get("preload", []):
    try:
        __import__(name)
    except ImportError:
        pass
os.close(os.pidfd_open(os.getpid()))  # Linux 5.3 or later: without pidfds, jobs start through bubblewrap
OWN_PID_NS = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
# Where each job's root is put together, inside our own mount namespace (an empty folder on the host).
STAGE = SETTINGS["stage"]
# Host paths every box shows read-only at the same place (the harness's bytecode).
READ_ONLY = SETTINGS.get("ro", [])
# Each job reports the CPU time and page faults of its set-up steps (bench/zygote.bench.ts); off in service.
TRACE = bool(SETTINGS.get("trace"))


# ---------------------------------------------------------------- the box

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


def build_root(request):
    """The job's file system: a copy of the template (our mount namespace, unshared by the caller), its own /tmp
    and /proc, then the template becomes its root and nothing else of ours stays reachable."""
    uid = request["uid"]
    mount("tmpfs", STAGE + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
          "size=%d,mode=0700,uid=%d,gid=%d" % (request["tmpfs"], uid, uid))
    mount("proc", STAGE + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for path in READ_ONLY:
        if in_tmp(path):
            os.makedirs(STAGE + path)
        mount(path, STAGE + path, None, MS_BIND | MS_REC)  # read-only already (build_template)
    os.chdir(STAGE)
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
    check(PRCTL(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if SECCOMP_PROGRAM is not None:
        check(PRCTL(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, SECCOMP_PROGRAM, 0, 0), "seccomp")
    if request["env"]:
        os.environ.update(request["env"])  # the fixed part is the zygote's own (set at its start)
    os.chdir("/tmp")


def load_payload():
    """The function each job runs. With an "entry" setting, the payload's definitions run once, here, so no job pays
    for them: a payload that finds `_ZYGOTE` among its globals defines everything and leaves its start, the entry
    function, to each job (src/python/learner-process.py); it reads its job from stdin only there, in the forked
    process. Without one, each job runs the whole payload."""
    main = type(sys)("__main__")
    main.__dict__.update(__builtins__=builtins, __file__=SETTINGS["argv"][0])
    sys.modules["__main__"] = main
    sys.argv = list(SETTINGS["argv"])
    entry = SETTINGS.get("entry")
    if not entry:
        return lambda: exec(PAYLOAD, main.__dict__)
    main.__dict__["_ZYGOTE"] = True
    exec(PAYLOAD, main.__dict__)
    return main.__dict__[entry]


def job(request, ends):
    """pid 1 of its own pid namespace (forked by spawn()): the cgroup, the other namespaces, the box, then the
    payload. Never returns."""
    marks = [] if TRACE else None
    mark = marks.append if TRACE else None
    if TRACE:
        mark(("forked", time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt))
    try:
        # Our parent is outside our pid namespace (getppid() says 0), so a zygote that died before this line goes
        # unnoticed here: the server then kills the job through its cgroup.
        check(PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
        os.setsid()  # a session of its own, as bubblewrap's --new-session: no terminal to push input into
        for target, fd in enumerate(ends):
            os.dup2(fd, target)  # stdin, stdout, stderr, the channel; fd 4: the set-up pipe
        os.closerange(5, 1 << 20)  # no job keeps another job's pipes, nor the zygote's
        if TRACE:
            mark(("descriptors", time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt))
        for procs in request["procs"]:
            joined = os.open(procs, os.O_WRONLY)
            try:
                os.write(joined, b"0")  # this process (its host pid is not ours to see)
            finally:
                os.close(joined)
        check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP), "unshare")
        if TRACE:
            mark(("cgroup and namespaces", time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt))
        build_root(request)
        if TRACE:
            mark(("root", time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt))
        become_job(request)
        if TRACE:
            mark(("identity and filter", time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt))
        # Set up: the zygote learns it from this byte, which nothing after this line can send (the pipe is closed).
        # With TRACE (bench/zygote.bench.ts), the CPU time and page faults at each step come after it.
        os.write(4, b"1" + (json.dumps(marks).encode() if TRACE else b""))
        os.close(4)
    except BaseException as error:
        os.write(2, ("sandbox set-up failed: %s\n" % error).encode())
        os._exit(SETUP_FAILED)
    try:
        RUN_PAYLOAD()
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    except BaseException:
        code = 70
    os._exit(code)


# ---------------------------------------------------------------- the zygote

def send(event):
    data = (json.dumps(event) + "\n").encode()
    while data:
        data = data[os.write(1, data):]


def spawn(request, held, children, poller):
    pipes = []
    try:
        for _ in range(4):
            pipes.append(os.pipe2(os.O_CLOEXEC))
        setup_read, setup_write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        pipes.append((setup_read, setup_write))
        # the job's: stdin, stdout, stderr, channel, and the set-up pipe it writes one byte to once its box is built
        ends = [pipes[0][0]] + [write for _, write in pipes[1:4]] + [setup_write]
        ours = [pipes[0][1]] + [read for read, _ in pipes[1:4]]
        zygote = os.getpid()
        # The next child is pid 1 of a new pid namespace; then ours is the namespace of our children again.
        check(libc.unshare(CLONE_NEWPID), "unshare pid")
        try:
            pid = os.fork()
        finally:
            if os.getpid() == zygote:  # not in the child: it is pid 1 of the new namespace
                libc.setns(OWN_PID_NS, CLONE_NEWPID)  # our own namespace: cannot fail
        if pid == 0:
            job(request, ends)  # never returns
    except OSError:
        for pair in pipes:
            for fd in pair:
                os.close(fd)
        raise
    for fd in ends:
        os.close(fd)  # the job's now
    # A pidfd turns readable when the job ends: no SIGCHLD handler, which every job would inherit and undo.
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        for fd in ours + [setup_read]:
            os.close(fd)
        raise
    children[pidfd] = (pid, request["id"], pidfd, setup_read)
    poller.register(pidfd, select.POLLIN)
    held[request["id"]] = ours
    send({"id": request["id"], "pid": pid, "fds": ours})


def handle(line, held, children, poller):
    request = json.loads(line)
    if request["op"] == "opened":
        for fd in held.pop(request["id"], []):
            os.close(fd)
        return
    if RETIRING:
        send({"id": request["id"], "error": "the template of the boxes is gone", "retire": True})
        return
    try:
        spawn(request, held, children, poller)
    except OSError as error:
        send({"id": request["id"], "error": str(error)})


def template_intact():
    return os.path.isdir(STAGE + "/usr/bin") and all(os.path.isdir(path) for path in READ_ONLY)


def reap(child, children, poller):
    pid, ident, pidfd, setup = children.pop(child)
    poller.unregister(pidfd)
    os.close(pidfd)
    _, status, usage = os.wait4(pid, 0)
    try:
        said = os.read(setup, 1 << 12)
    except BlockingIOError:
        said = b""
    os.close(setup)
    built = said[:1] == b"1"
    ended = {"id": ident, "cpu_ms": round((usage.ru_utime + usage.ru_stime) * 1000, 2), "built": built}
    if TRACE and built:
        ended["stages"] = json.loads(said[1:])
    if os.WIFSIGNALED(status):
        send(dict(ended, signal=os.WTERMSIG(status)))
    else:
        send(dict(ended, exit=os.WEXITSTATUS(status)))
    global RETIRING
    if not built and not RETIRING and not template_intact():
        # Our stage folder was removed on the host (a /tmp cleaner), which takes the template with it: every
        # later box would fail the same way. We start no more boxes (the server starts a new zygote, with a new
        # stage) and leave once the boxes built before it are done.
        os.write(2, b"the template of the boxes is gone\n")
        RETIRING = True


RETIRING = False


RUN_PAYLOAD = load_payload()


def serve():
    build_template()
    check(PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")  # never outlive the server
    gc.freeze()  # our objects never move again, so no job's collector copies their pages
    held, children, pending = {}, {}, b""
    poller = select.poll()
    poller.register(0, select.POLLIN)
    send({"ready": True, "pid": os.getpid()})
    while True:
        for fd, _ in poller.poll():
            if fd in children:
                reap(fd, children, poller)
                continue
            chunk = os.read(0, 1 << 16)
            if not chunk:
                os._exit(0)  # the server is gone; our jobs die with us (PR_SET_PDEATHSIG)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line:
                    handle(line, held, children, poller)
        if RETIRING and not children:
            os._exit(0)


serve()
