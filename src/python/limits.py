# Hard rlimits and result depth, shared by every embedded Python program (src/python/program.ts puts this file in
# front of the core): the execution harness's learner process and scheduler, and the Python server runner. Only
# C modules: the scheduler starts with as few imports as it can.
import resource
import _signal

MAX_DEPTH = 100  # containers in a result beyond this depth become their repr (core.to_json)


def set_limits(memory_bytes, processes, file_bytes, open_files):
    """Hard rlimits (soft = hard), set before any learner code runs; an unprivileged process cannot raise them.
    CPU time is set per learner process (set_cpu_limit), not in the harness's scheduler."""
    for name, value in (
        ("RLIMIT_AS", memory_bytes),
        ("RLIMIT_NPROC", processes),
        ("RLIMIT_FSIZE", file_bytes),
        ("RLIMIT_NOFILE", open_files),
        ("RLIMIT_CORE", 0),
    ):
        cap(name, value, value)
    # A too-large write should be an OSError the learner sees, not a silent kill.
    _signal.signal(_signal.SIGXFSZ, _signal.SIG_IGN)


def set_cpu_limit(seconds):
    """CPU seconds of one learner process: SIGXCPU at the limit, SIGKILL one second later. Set well behind the
    wall clock, so a spinning process meets the time limit (reported as such) long before this one."""
    cap("RLIMIT_CPU", seconds, seconds + 1)


def cap(name, soft, hard):
    kind = getattr(resource, name, None)
    if kind is None or soft is None:
        return
    try:
        resource.setrlimit(kind, (soft, hard))
    except (ValueError, OSError):
        pass  # already lower than asked (e.g. an outer limit): keep the lower one
