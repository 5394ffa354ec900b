# The first lines of the scheduler program (src/python/harness.py), before the core's imports: the scheduler
# makes itself undumpable, then starts the learner process (src/python/learner-process.py), so both interpreters
# start up at the same time and a pooled sandbox is ready sooner. Uses only modules the interpreter has loaded
# already (posix, sys) and one small C module (_socket).
#
# The learner process reads the job from our stdin, writes a copy of it to us and closes that pipe before it
# runs any learner code, then reports on its own pipe. fd 3 (our result channel) is /dev/null there.
import posix
import sys
import _socket


def start_learner(program, limits_text, stdin_fd):
    """(pid or None, job copy fd, report fd, control socket) of a new learner process."""
    copy_read, copy_write = posix.pipe()
    report_read, report_write = posix.pipe()
    control, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    passed = [copy_write, report_write, theirs.fileno()]
    for fd in passed:
        posix.set_inheritable(fd, True)  # only this spawn inherits them: they are closed right after
    python = sys.executable or "/usr/bin/python3"
    argv = [python, "-I", "-S", "-c", program, limits_text] + [str(fd) for fd in passed]
    # stdin first: remotely there is no fd 3 of ours, and the job pipe may have got that number.
    actions = [(posix.POSIX_SPAWN_DUP2, stdin_fd, 0)] if stdin_fd != 0 else []
    actions.append((posix.POSIX_SPAWN_OPEN, 3, "/dev/null", posix.O_WRONLY, 0))
    try:
        pid = posix.posix_spawn(python, argv, posix.environ, file_actions=actions)
    except OSError:
        pid = None  # too many processes: the job is answered with an error
    for fd in passed[:2]:
        posix.close(fd)
    theirs.close()
    return pid, copy_read, report_read, control


make_undumpable()
if "_REMOTE_JOB" in globals():
    # OneCompiler (src/execution/onecompiler-runner.ts): limits, learner program and job are prepended to the
    # program; the job reaches the learner process through a pipe we fill once it runs (see harness.py).
    REMOTE_JOB_READ, REMOTE_JOB_WRITE = posix.pipe()
    LEARNER = start_learner(_REMOTE_LEARNER, _REMOTE_LIMITS, REMOTE_JOB_READ)  # noqa: F821
    posix.close(REMOTE_JOB_READ)
else:
    LEARNER = start_learner(sys.argv[2], sys.argv[1], 0)
