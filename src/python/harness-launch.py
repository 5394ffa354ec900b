# The fork that makes the two processes of the execution harness (src/python/harness.py), run once the light
# definitions both share exist and before anything heavy is imported. The parent is the scheduler: it runs
# scheduler_main and never returns here. The child is the learner process: it goes on with the rest of the
# program (core.py, harness-parse.py, learner-process.py) and its imports. Both are born at once (a pooled sandbox
# is ready about as soon as a single interpreter would be) and undumpable; they share nothing the learner process
# could use later: the scheduler's descriptors are closed in it and fd 3 (the result channel) is /dev/null.
import posix
import sys
import _socket


def split():
    """Forks; (pid, plan fd, report fd, control socket) in the scheduler, None in the learner process (whose ends
    are in LEARNER_ENDS). The pid is None when the system refused the fork."""
    global LEARNER_ENDS
    plan_read, plan_write = posix.pipe()
    report_read, report_write = posix.pipe()
    control, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    try:
        pid = posix.fork()
    except OSError:
        pid = None
    if pid == 0:
        for fd in (plan_read, report_read):
            posix.close(fd)
        control.close()
        null = posix.open("/dev/null", posix.O_WRONLY)
        posix.dup2(null, 3)
        posix.close(null)
        LEARNER_ENDS = (plan_write, report_write, theirs)
        return None
    for fd in (plan_write, report_write):
        posix.close(fd)
    theirs.close()
    return pid, plan_read, report_read, control


REMOTE = "_REMOTE_JOB" in globals()  # OneCompiler: job, limits and marker are prepended to the program
LIMITS_TEXT = _REMOTE_LIMITS if REMOTE else sys.argv[1]  # noqa: F821
_limits = DECODE(LIMITS_TEXT)
if not REMOTE:
    # Hard limits for both processes before either runs anything of the job (remotely, the service has its own).
    set_limits(_limits["memory_mb"] * 1024 * 1024, _limits["max_processes"], _limits["file_bytes"],
               max(64, _limits["parallelism"] + 32))
make_undumpable()  # before the fork: both processes are born undumpable
_started = split()
if _started is not None:
    scheduler_main(_limits, _started)  # never returns
