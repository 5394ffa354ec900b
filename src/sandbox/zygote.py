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
# (After src/sandbox/zygote-box.py: libc, check(), the CLONE_/PR_ constants, the filter and the box functions.)
import os
import sys
import json
import signal
import select
import marshal
import builtins
import gc
import resource
import time

SETTINGS = json.loads(sys.argv[1])

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
JOB_MOUNTS = job_mounts()



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
