# The first lines of the execution harness's learner process (src/python/learner-process.py), before anything heavy
# is imported. A test batch is graded, so its reports come from the scheduler (src/python/harness.py), a fresh
# interpreter started here that never runs learner code: it gets fd 3 (the result channel), the limits and its ends
# of our pipes; we keep /dev/null as fd 3. A call, a listing or a syntax check is not graded (the learner sees
# their own function's answer) and runs in this one process, which reports on fd 3 itself: a second interpreter
# would cost every call about a third more and protect nothing but the learner's own answer.
#
# Started as `python3 -I -S <learner .pyc> <limits json> <scheduler .pyc>` (src/python/compiled.ts), or with
# `-c <program>` and the scheduler's source where the bytecode could not be made; remotely (OneCompiler) limits, job,
# marker and scheduler program are prepended to the program instead. The sandbox's zygote (src/sandbox/zygote.py)
# runs the whole program once without its last lines, then calls run() in every job it forks; there a batch's
# scheduler is a fork of the learner process (fork_scheduler), made before any learner code runs.
import posix
import sys
import _socket

REMOTE = "_REMOTE_JOB" in globals()


def start_scheduler(program, limits_text, marker):
    """(pid or None, our ends): plan pipe, report pipe, the scheduler's ready pipe, control socket."""
    plan_read, plan_write = posix.pipe()
    report_read, report_write = posix.pipe()
    ready_read, ready_write = posix.pipe()
    control, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    passed = [plan_read, report_read, ready_write, theirs.fileno()]
    for fd in passed:
        posix.set_inheritable(fd, True)  # only this spawn inherits them: they are closed right after
    python = sys.executable or "/usr/bin/python3"
    # A path (only ever one of ours: the source starts with a comment) is the precompiled scheduler.
    script = [program] if program.startswith("/") else ["-c", program]
    argv = [python, "-I", "-S"] + script + [limits_text, marker] + [str(fd) for fd in passed]
    try:
        pid = fork_scheduler(argv[3:], passed) if SCHEDULER_CODE else posix.posix_spawn(python, argv, posix.environ)
    except OSError:
        pid = None  # too many processes: the job cannot run
    for fd in passed[:3]:
        posix.close(fd)
    theirs.close()
    null = posix.open("/dev/null", posix.O_WRONLY)
    posix.dup2(null, 3)  # the result channel is the scheduler's alone
    posix.close(null)
    return pid, (plan_write, report_write, ready_read, control)


def fork_scheduler(argv, passed):
    """In a job forked from the zygote (src/sandbox/zygote.py): the scheduler as a fork of this process, which has
    run no learner code yet, instead of a new interpreter. It keeps fds 0-3 and the ends passed to it, as a
    spawned one would, and runs the scheduler's bytecode the zygote loaded, in globals of its own."""
    pid = posix.fork()
    if pid:
        return pid
    try:
        keep = sorted(set(passed) | {0, 1, 2, 3})
        for low, high in zip(keep, keep[1:] + [1 << 20]):
            posix.closerange(low + 1, high)  # our ends (plan, report, ready, control) and everything else
        sys.argv = [SCHEDULER_PROGRAM] + argv[1:]
        exec(SCHEDULER_CODE, {"__name__": "__main__", "__builtins__": __builtins__})
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        posix._exit(70)  # the scheduler ends with its own _exit; reaching here is a failure


LIMITS_TEXT = _REMOTE_LIMITS if REMOTE else sys.argv[1]  # noqa: F821
_limits = DECODE(LIMITS_TEXT)


def apply_limits():
    """Hard limits before anything of the job exists (the scheduler inherits them; remotely the service has its
    own). The scheduler needs more open files than a learner process: ours are lowered in learner-process.py."""
    if not REMOTE:
        set_limits(_limits["memory_mb"] * 1024 * 1024, _limits["max_processes"], _limits["file_bytes"],
                   max(64, _limits["parallelism"] + 32))


SCHEDULER_PROGRAM = _REMOTE_SCHEDULER if REMOTE else sys.argv[2]  # noqa: F821
# Loaded once in the zygote, where the scheduler's bytecode is a file of ours (a .pyc: 16 bytes of header, then
# the code): each batch then forks its scheduler instead of starting an interpreter.
SCHEDULER_CODE = None
if "_ZYGOTE" in globals() and SCHEDULER_PROGRAM.startswith("/"):
    import marshal

    with open(SCHEDULER_PROGRAM, "rb") as _scheduler:
        SCHEDULER_CODE = marshal.loads(_scheduler.read()[16:])
MARKER = _REMOTE_MARKER if REMOTE else ""  # noqa: F821
