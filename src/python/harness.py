"""Execution harness: runs one job on the learner's code and reports through its own channel.

A call, a listing or a syntax check runs in one process, the learner process (learner-process.py, after core.py
and harness-parse.py), started by the server as `python3 -I -S -c <program> <limits json> <scheduler program>`.
It reads the job from stdin, works out its plan and, for a call, loads the module and calls the endpoint, then
writes its one message on fd 3 itself: nothing there is graded, so learner code can only change its own answer
(and the server bounds that channel and keeps the time limit).
A test batch is graded and runs as two processes (src/python/program.ts):
- The learner process starts the scheduler (harness-launch.py) once the job has arrived: a fresh interpreter, or,
  in a job forked from the sandbox's zygote, a fork of itself made before any learner code exists. It
  hands it the plan (listing, syntax errors, unknown endpoints) before it runs any learner code, which it does
  only once the scheduler says it is undumpable; then it loads the module once and forks one process per case
  when the scheduler orders it, so every case starts from fresh module state.
- The scheduler (limits.py, harness-common.py, harness-reports.py, this file) gets the limits and fd 3 (the
  result channel; remotely, marked stdout lines) from the learner process before any learner code exists, and is
  the only writer of that channel. It never executes learner code and imports C modules only.
Every learner process that reports has its own report channel, a pipe the scheduler made for it (for a case,
passed to the learner process with the order); the scheduler reads case N's report only from case N's pipe.

What learner code in a test batch can influence:
- The value (or error) reported for its own case, also by rewriting the harness code in its own
  processes: it could return that value anyway.
- Its own processes. It may start more; they have no report channel of their own, and the sandbox bounds them
  (memory/cpu/pids cgroup, RLIMIT_NPROC, RLIMIT_CPU well behind the time limit).
What it cannot influence:
- Another case's report: a channel's write end exists only in its case's process (the learner process closes
  its copy as it forks), learner processes are not dumpable (a sibling cannot open /proc/<pid>/fd or
  /proc/<pid>/mem, or ptrace it), and the scheduler accepts one line per channel, then closes it.
- Another case's input: the inputs follow the job on stdin and only the scheduler reads them, to the end, before
  any learner code runs (the learner process reads the job alone, then swaps its stdin for /dev/null); each order
  carries its case's input in a memfd that only that case's process reads. Nothing of another case's input is
  ever in a learner process's memory, freed or not. (All
  cases run the learner's code in one sandbox, so they can still pass their own inputs on to each other, through
  /tmp for one: what leaves a private case for the client is its status, see src/grading/plan.ts.)
- The limits: parallelism, time limit and sizes live in the scheduler, read from argv before any learner code
  exists. Learner processes hold copies that nothing reads back.
- The verdict of a case that did not report: the scheduler measures time from dispatch and declares `timeout`
  itself; a death without a report is described from its wait status, never as a pass.
- The result channel: learner processes find /dev/null as fd 3, and the scheduler is not dumpable, so they
  cannot open /proc/<scheduler>/fd/3 or write its memory. They can kill it (same uid): the run then ends without
  results, a failure, never a pass.
- What is reported: the scheduler checks every report (one line of at most line_bytes, JSON depth, a value of at
  most result_bytes, known error types, text fields as text) and writes its own lines with its own json.
Remote runs (OneCompiler) have no sandbox of ours and only stdout; the marker of result lines is part of the
program text there, so learner code can forge lines: the remote service and its own limits are the boundary.
"""
import os
import select
import sys
import time
import _signal
import _socket
import _struct

LIMITS = {}  # the scheduler's, from argv; the learner process gets a copy, which nothing reads back


# ---------------------------------------------------------------- the learner process

class Learner:
    """Our ends of the learner process, our parent (harness-launch.py started us): its plan, its report, the
    control socket of a test batch; and the pipe we tell it on that we are undumpable, which it reads to its end
    before it leaves."""

    def __init__(self, fds):
        self.pid = os.getppid()
        self.plan, self.report, self.ready = fds[:3]
        self.control = _socket.socket(fileno=fds[3])

    def read_plan(self):
        """The job's plan, written to us before the learner process ran any learner code; None if it never came
        (the learner process died)."""
        chunks = []
        while True:
            chunk = os.read(self.plan, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(self.plan)
        return DECODE(b"".join(chunks).decode()) if chunks else None

    def alive(self):
        # An orphan gets a new parent: our parent is the learner process for as long as it lives.
        return os.getppid() == self.pid

    def stop(self):
        kill(self.pid)


def kill(pid):
    try:
        os.kill(pid, _signal.SIGKILL)
    except OSError:
        pass


def await_report(fd, learner):
    """The learner process's report on `fd`, or the time limit from now, whichever comes first; None if it died
    first (we are its child: the server tells how it ended, from the exit status of the sandbox's first process).
    It is stopped once we have reported (scheduler_main): stopped earlier, the sandbox would end with it."""
    channel = Channel(fd)
    deadline = time.monotonic() + LIMITS["timeout_ms"] / 1000.0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            channel.close()
            return timed_out()
        # Its death is looked for every 10 ms: processes it started may hold the channel open after it ended.
        readable = select.select([fd] if channel.open else [], [], [], min(left, 0.01))[0]
        state = channel.pump() if readable else None
        if state is None and not learner.alive():
            state = channel.drain()
            if state not in ("line", "too_big"):
                channel.close()
                return None
        if state == "line":
            return channel.report()
        if state == "too_big":
            return too_big()


# ---------------------------------------------------------------- operations

class Case:
    """One dispatched case: its report channel and its time limit, counted from the order."""

    def __init__(self, channel):
        self.channel = channel
        self.started = time.monotonic()
        self.deadline = self.started + LIMITS["timeout_ms"] / 1000.0
        self.status = None  # its wait status, once the learner process told us it ended


def run_tests(plan, emit, learner):
    """The learner process loads the module once, then runs the cases, at most `parallelism` at a time."""
    loaded = await_report(learner.report, learner)
    if loaded is None:
        return
    if "value" not in loaded:
        if not loaded["message"].startswith("While loading your code"):
            loaded["message"] = "While loading your code: " + loaded["message"]
        return emit(dict(loaded, type="error"))
    learner.control.setblocking(False)  # a learner process that stops reading must not stall the scheduler
    run_cases(plan["missing"], plan["inputs"], learner.control, emit)
    emit({"type": "done"})


def run_cases(missing, inputs, control, emit):
    """Orders the cases from the learner process, at most `parallelism` at a time, and reports each once: its
    report, how it died, or a timeout at its deadline, whatever the learner process does or says. Each order carries
    its case's input (`inputs`, kept here only): the learner process forks the case's process with it unread."""
    running = {}  # case index -> Case
    upcoming = iter(range(len(missing)))
    pending = len(missing)
    learner_alive = True

    def finish(index, fields):
        case = running.pop(index)
        case.channel.close()
        emit(dict(fields, type="case", index=index, duration_ms=round((time.monotonic() - case.started) * 1000, 2)))

    while pending:
        while len(running) < LIMITS["parallelism"] and len(running) < pending:
            index = next(upcoming)
            channel = order_case(control, index, inputs) if missing[index] is None and learner_alive else None
            if channel is None:
                pending -= 1
                why = missing[index] or {
                    "error_type": "runtime_error", "message": "The case could not be started (the process running the tests ended)"}
                emit(dict(why, type="case", index=index, duration_ms=0))
                continue
            running[index] = Case(channel)
        if not running:
            continue
        wait = max(0.0, min(case.deadline for case in running.values()) - time.monotonic())
        fds = [case.channel.fd for case in running.values() if case.channel.open]
        ready = select.select(fds + ([control] if learner_alive else []), [], [], wait)[0]
        if control in ready:
            learner_alive = read_statuses(control, running)
        for index, case in list(running.items()):
            state = case.channel.pump() if case.channel.open and case.channel.fd in ready else None
            if state is None and case.status is not None:  # it ended: what it wrote before is in the pipe
                state = case.channel.drain()
            if state == "line":
                finish(index, case.channel.report())
            elif state == "too_big":
                finish(index, too_big())  # reported first: nothing the learner process does can lose it now
                tell(control, KILL, index)
            elif case.status is not None:
                finish(index, describe_death(case.status, "case"))
            elif not case.channel.open and not learner_alive:
                finish(index, {"error_type": "runtime_error", "message": "The case ended without a result"})
            elif time.monotonic() >= case.deadline:
                finish(index, timed_out())
                tell(control, KILL, index)
            else:
                continue
            pending -= 1


def order_case(control, index, inputs):
    """A new report channel for case `index`, its write end sent with the order, and the case's input in a file of
    its own (a memfd: any size, never read by the learner process, which passes it on to the case's process);
    None if the learner process is gone or the case cannot be set up."""
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        return None  # no descriptor left: the case cannot run
    input_fd = None
    try:
        input_fd = input_file(inputs[index])
        inputs[index] = None  # handed over: nothing here needs it again
        control.sendmsg([ORDER.pack(RUN, index)],
                        [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, _struct.pack("2i", write_fd, input_fd))])
    except OSError:
        os.close(read_fd)
        return None
    finally:
        os.close(write_fd)
        if input_fd is not None:
            os.close(input_fd)
    return Channel(read_fd)


def input_file(value):
    """A memfd holding `value` as JSON, read from its start."""
    fd = os.memfd_create("case-input", os.MFD_CLOEXEC)
    try:
        write_all(fd, ENCODE(value))
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd


def tell(control, kind, index):
    try:
        control.send(ORDER.pack(kind, index))
    except OSError:
        pass  # a learner process that does not listen cannot stop its case; the sandbox ends it with the run


def read_statuses(control, running):
    """Takes the learner process's news of ended cases (a bounded number per round: it may flood us); False once
    it is gone."""
    for _ in range(64):
        try:
            news = control.recv(64)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not news:
            return False
        if len(news) == ENDED.size:
            index, status = ENDED.unpack(news)
            if index in running:
                running[index].status = status
    return True


# ---------------------------------------------------------------- main

def scheduler_main():
    """The scheduler, from start to exit. argv: limits, remote marker ("" locally), then our ends of the learner
    process's pipes (harness-launch.py)."""
    make_undumpable()
    limits, marker = DECODE(sys.argv[1]), sys.argv[2]
    LIMITS.update(limits)
    emit = line_emitter(remote_writer(marker) if marker else lambda line: write_all(3, line))
    learner = Learner([int(fd) for fd in sys.argv[3:7]])
    try:
        plan = learner.read_plan()
        if plan is None:
            return  # the learner process died before any learner code: its exit status says how
        if "final" not in plan and plan["inputs"] is None:
            plan["inputs"] = read_inputs()  # to the end of stdin, before any learner code runs
        os.write(learner.ready, b"1")  # undumpable, inputs read: the learner process may run learner code
        if "final" in plan:
            emit(plan["final"])  # the job runs no learner code: a listing, a syntax check, an unknown endpoint
        else:
            run_tests(plan, emit, learner)  # a call runs without a scheduler (harness-launch.py)
    finally:
        # Everything is reported: end the processes of the run that stayed in our group (the learner process, a
        # case it had no time to stop, their children), ourselves last; those that left the group end with the
        # sandbox. Remotely we may not lead the group: then the learner process leaves when we do.
        for stream in (sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except BaseException:
                pass
        if os.getpgrp() == learner.pid:  # it leads our group (the sandbox's first process; the server's group)
            os.killpg(0, _signal.SIGKILL)
        learner.stop()
        os._exit(0)


def read_inputs():
    """A batch's inputs, which follow its job on stdin (fd 0, shared with the learner process, which reads the job
    only and then lets go of it). Read to the end before any learner code runs, so nothing is left in the pipe for
    learner code to find."""
    chunks = []
    while True:
        chunk = os.read(0, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    return DECODE(b"".join(chunks).decode())


def line_emitter(write):
    """Each message as one line of JSON of at most line_bytes (longer output is cut, see encode_line)."""
    def emit(message):
        line = encode_line(message, LIMITS["line_bytes"])
        if line is None:  # a message whose value or endpoint list alone is too large
            kept = {key: message[key] for key in ("type", "index", "duration_ms") if key in message}
            line = encode_line(dict(too_big(), **kept) if kept.get("type") == "case" else dict(too_big(), type="error"),
                               LIMITS["line_bytes"])
        write(line)
    return emit


def remote_writer(marker):
    """OneCompiler has only stdout, shared with learner output: each message on a line of its own after the
    per-run marker."""
    def write(line):
        sys.__stdout__.write("\n" + marker + line)
        sys.__stdout__.flush()
    return write


scheduler_main()
