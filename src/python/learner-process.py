# The learner process of the execution harness: plans, loads and calls the learner's code. It is the process the
# server starts. It reads the job from stdin and works out the job's plan (harness-parse.py).
# - A test batch: it starts the scheduler (src/python/harness.py, see harness-launch.py), hands it the plan and
#   closes that pipe before any learner code runs, and runs learner code only once the scheduler says it is
#   undumpable. From then on learner code can read and rewrite everything in this process, so what it reports is
#   learner-controlled input that the scheduler checks; nothing here is a limit or a verdict. fd 3 (the
#   scheduler's result channel) is /dev/null here; the report fd is this process's own pipe to the scheduler; the
#   control socket brings orders to fork one process per case.
# - A call, a listing or a syntax check: nothing is graded, so this process reports on fd 3 itself (the server
#   bounds and checks that channel, and keeps the time limit); learner code can only change its own answer.
#
# Imports: C modules and io (loaded by every interpreter anyway); traceback (with linecache, tokenize, re and
# textwrap behind it) only where the harness itself fails, since learner frames are formatted here.
import io
import select
import sys
import _signal
import _socket
import _struct

LIMITS = {}  # a copy for capture sizes; nothing reads it back


class OutputLimit(BaseException):
    """Raised when the learner prints more than allowed. BaseException so `except Exception` cannot swallow it."""


class CappedBuffer(io.TextIOBase):
    """A stdout/stderr stand-in that keeps at most `limit` characters and stops the program beyond it."""

    def __init__(self, limit):
        self.limit = limit
        self.parts = []
        self.size = 0

    def writable(self):
        return True

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str")
        self.size += len(text)
        if self.size > self.limit:
            raise OutputLimit("Output limit exceeded: more than %d bytes printed" % self.limit)
        self.parts.append(text)
        return len(text)

    def getvalue(self):
        return "".join(self.parts)


def bounded_line(message):
    """`message` as one line of at most line_bytes. A value beyond result_bytes, or a message too large for a line
    even with its texts cut, becomes output_limit (an `error` when the message is typed), keeping the output."""
    line = encode_line(message, LIMITS["line_bytes"])
    if line is not None and not ("value" in message and len(ENCODE(message["value"])) > LIMITS["result_bytes"]):
        return line
    fields = {"error_type": "output_limit", "message": "The result is larger than %d bytes" % LIMITS["result_bytes"],
              "stdout": message.get("stdout", ""), "stderr": message.get("stderr", "")}
    if "type" in message:
        fields.update({key: message[key] for key in ("endpoint", "args_used") if key in message}, type="error")
    return encode_line(fields, LIMITS["line_bytes"])


def write_report(fd, report):
    """This process's one report, one line on its own channel, then EOF (before the slow teardown)."""
    write_all(fd, bounded_line(report))
    os.close(fd)


# ---------------------------------------------------------------- loading and calling

def learner_frames(tb):
    """(line, function name) of each frame of the learner's code in a traceback, outermost first."""
    frames = []
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == LEARNER_FILE:
            frames.append((tb.tb_lineno, code.co_name))
        tb = tb.tb_next
    return frames


def safe_text(error):
    try:
        return str(error)
    except BaseException:
        return "<unprintable message>"


def describe_exception(error):
    if isinstance(error, OutputLimit):
        return {"error_type": "output_limit", "message": str(error)}
    if isinstance(error, MemoryError):
        return {"error_type": "memory_limit", "message": "Memory limit exceeded (MemoryError)"}
    if isinstance(error, SystemExit):
        return {"error_type": "runtime_error", "message": "The program called exit(%s)" % safe_repr(error.code)}
    frames = learner_frames(error.__traceback__)
    line = frames[-1][0] if frames else None
    text = "%s: %s" % (type(error).__name__, safe_text(error))
    if line is not None:
        text += " (line %d)" % line
    # As traceback.format_list writes them; the learner's code has no file, so no source line follows.
    trace = "".join('  File "%s", line %s, in %s\n' % (LEARNER_FILE, lineno, name) for lineno, name in frames)
    return {"error_type": "runtime_error", "message": text, "line": line, "traceback": trace}


def load_module(tree):
    """Runs the learner's module with `endpoint` predefined (a definition of their own replaces it).
    Returns (module, load output) or (None, failure report)."""
    out, err = CappedBuffer(LIMITS["output_bytes"]), CappedBuffer(LIMITS["output_bytes"])
    sys.stdout, sys.stderr = out, err
    module = {"__name__": "learner", "__builtins__": __builtins__, "endpoint": endpoint}
    try:
        exec(compile(tree, LEARNER_FILE, "exec"), module)
    except BaseException as exc:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        failure = dict(describe_exception(exc), stdout=out.getvalue(), stderr=err.getvalue())
        failure["message"] = "While loading your code: " + failure["message"]
        return None, failure
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    return module, (out.getvalue(), err.getvalue())


def call_function(module, target, args):
    """Calls the endpoint function the scheduler named (target: name and parameter annotations); returns the
    report. Learner output is captured per call."""
    used = convert_arguments(args, target["annotations"])
    func = module.get(target["name"])
    if not callable(func):
        return {"error_type": "runtime_error", "message": "%s is not a function" % target["name"]}
    out, err = CappedBuffer(LIMITS["output_bytes"]), CappedBuffer(LIMITS["output_bytes"])
    sys.stdout, sys.stderr = out, err
    owner = os.getpid()
    try:
        value = func(**used)
        if hasattr(value, "__await__"):
            import asyncio
            value = asyncio.run(value)
        report = {"value": to_json(value)}
    except BaseException as error:  # everything the learner's code can raise is a result, not our crash
        report = describe_exception(error)
    finally:
        if os.getpid() != owner:
            # A process the learner forked came back through our frames: it must not report or run harness code.
            os._exit(0)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    report.update(stdout=out.getvalue(), stderr=err.getvalue())
    return report


def target(ep):
    return {"name": ep["name"], "annotations": annotations(ep)}


def run_tests(tree, targets, report_fd, control):
    """Loads the module once, reports how that went, then forks one process per case the scheduler orders (fresh
    module state each), handing it what came with the order: its report channel and its input. Reaps its children
    and tells the scheduler how each ended (for the message of a case that died without a report).
    `targets` holds each case's endpoint only: no input is in this process, so neither the module's code nor a
    case's process can find another case's input in memory (a case reads its own from the order, after the fork)."""
    module, loaded = load_module(tree)
    write_report(report_fd, {"value": None} if module else loaded)
    if module is None:
        return
    # Most of a case's cost is fork and exit. Frozen objects are never touched by a child's garbage collector,
    # so the children copy (and later free) far fewer pages.
    import gc
    gc.freeze()
    children = {}  # pid -> case index
    while True:
        ready = select.select([control], [], [], 0.005 if children else None)[0]
        reap(children, control)
        if not ready:
            continue
        order, fds = receive_order(control)
        if len(order) != ORDER.size:
            return  # the scheduler is gone
        kind, index = ORDER.unpack(order)
        if kind == KILL:
            for pid in [pid for pid, case in children.items() if case == index]:
                try:
                    os.kill(pid, _signal.SIGKILL)
                except OSError:
                    pass
        elif kind == RUN and len(fds) == 2 and index < len(targets) and targets[index]:
            pid = os.fork()
            if pid == 0:
                try:
                    control.close()
                    report_fd, input_fd = fds
                    write_report(report_fd, call_function(module, target(targets[index]), read_input(input_fd)))
                finally:
                    os._exit(0)
            children[pid] = index
        for fd in fds:
            os.close(fd)


def read_input(fd):
    """A case's arguments, from the file the scheduler wrote them to (sent with the order); only this case's process
    reads it."""
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return DECODE(b"".join(chunks).decode())


def receive_order(control):
    """One order and the descriptors that came with it (socket.recv_fds without importing the socket module:
    a few milliseconds less for every sandbox start)."""
    order, ancillary, _, _ = control.recvmsg(ORDER.size, _socket.CMSG_SPACE(_struct.calcsize("2i")))
    fds = []
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds.extend(_struct.unpack("%di" % (len(data) // 4), data[: len(data) - len(data) % 4]))
    return order, fds


def reap(children, control):
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not pid:
            return
        if pid in children:
            try:
                control.send(ENDED.pack(children.pop(pid), status))
            except OSError:
                pass


def emit_alone(message):
    """A message of a job that runs without a scheduler, straight onto the result channel (stdout after the marker
    remotely), one line of at most line_bytes."""
    line = bounded_line(message)
    # Learner code may have written to fd 3 before us (the server takes the last message of a call): a leading
    # newline keeps a torn line of theirs from spoiling ours.
    if REMOTE:
        sys.__stdout__.write("\n" + MARKER + line)
        sys.__stdout__.flush()
    else:
        write_all(3, "\n" + line)


def run_alone(job, the_plan, tree, endpoints):
    """A call, a listing or a syntax check, in this one process."""
    if "final" in the_plan:
        return emit_alone(the_plan["final"])
    module, loaded = load_module(tree)
    if module is None:
        return emit_alone(dict(loaded, type="error"))
    report = call_function(module, target(find_endpoint(endpoints, job.get("endpoint"))), job.get("args"))
    report["stdout"] = loaded[0] + report["stdout"]
    report["stderr"] = loaded[1] + report["stderr"]
    emit_alone(dict(report, type="result" if "value" in report else "error",
                    endpoint=the_plan["endpoint"], args_used=the_plan["args_used"]))


def read_job():
    """The job from stdin: the JSON job whole (read to the end), or, for a test batch, a line with the job's length in
    bytes, then the job, then the cases' inputs (src/execution/local-runner.ts, jobInput). Those are the scheduler's
    to read: this process never has a byte of them in its memory, where learner code could look for them even
    after they were freed. "" for a pooled sandbox discarded unused."""
    first = os.read(0, 1)
    if first != b"{" and first.isdigit():
        digits = first
        while len(digits) < 16:
            byte = os.read(0, 1)
            if not byte or byte == b"\n":
                break
            digits += byte
        left, chunks = int(digits), []
        while left > 0:
            chunk = os.read(0, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks).decode()
    chunks = [first]
    while chunks[-1]:
        chunks.append(os.read(0, 1 << 20))
    return b"".join(chunks).decode()


def main():
    """True when a scheduler was started (it ends this process once it has reported)."""
    limits = DECODE(LIMITS_TEXT)
    LIMITS.update(limits)
    job_text = _REMOTE_JOB if REMOTE else read_job()  # noqa: F821 (a pooled sandbox waits here)
    if not job_text:
        return False  # a pooled sandbox discarded unused
    job = DECODE(job_text)  # the server's JSON.stringify: plain JSON, no NaN
    the_plan, tree, endpoints = plan(job)
    if job["op"] != "tests":
        set_cpu_limit(limits["cpu_seconds"])
        cap("RLIMIT_NOFILE", 64, 64)
        run_alone(job, the_plan, tree, endpoints)
        return False
    # A batch's cases are siblings: none may open another's /proc/<pid>/fd (where its report channel is) or
    # /proc/<pid>/mem. Forked cases inherit this; a call has no sibling to protect and skips the cost.
    make_undumpable()
    global SCHEDULER_ENDS
    pid, SCHEDULER_ENDS = start_scheduler(SCHEDULER_PROGRAM, LIMITS_TEXT, MARKER)
    if not pid:
        return False  # no scheduler: the server reports the run ended without a result
    # The batch's inputs that follow the job on stdin are the scheduler's (it has its own copy of fd 0): ours
    # becomes /dev/null, so learner code here cannot read them (and finds stdin at its end, as in a call).
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    plan_fd, report_fd, ready_fd, control = SCHEDULER_ENDS
    # Before any learner code: CPU time far behind the scheduler's time limit, fewer open files than the scheduler
    # needs. The other rlimits were set in harness-launch.py.
    set_cpu_limit(limits["cpu_seconds"])
    cap("RLIMIT_NOFILE", 64, 64)
    write_all(plan_fd, ENCODE(the_plan))
    os.close(plan_fd)  # the scheduler has the whole plan, every input with it, before any learner code runs
    targets = [find_endpoint(endpoints, case.get("endpoint")) for case in job["cases"]]
    # Where the job itself held the inputs (remotely, or a job sent whole), they are the scheduler's alone now: no
    # reference may outlive this line, or learner code could find them through the frame stack or the garbage
    # collector.
    del job, job_text, the_plan
    # Learner code only once the scheduler is undumpable (it says so with one byte; nothing if it died).
    if not tree or os.read(ready_fd, 1) != b"1":
        return True
    run_tests(tree, targets, report_fd, control)
    return True


SCHEDULER_ENDS = None


def run():
    """The learner process from its limits to its exit; never returns."""
    apply_limits()
    try:
        if main():
            # We are the sandbox's first process: leaving would end the scheduler before it reports. It ends us.
            while os.read(SCHEDULER_ENDS[2], 1):
                pass
        code = 0
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 70
    # Our output ends here. Closing it first lets the server answer as soon as the streams end, instead of after
    # the kernel has torn down this process and its sandbox.
    for fd in (1, 2, 3):
        try:
            os.close(fd)
        except OSError:
            pass
    # Leave without the interpreter's shutdown: it would wait for threads the learner left running and run their
    # atexit hooks.
    os._exit(code)


# The zygote (src/sandbox/zygote.py) runs everything above once, before any job, and run() in each job it forks.
if "_ZYGOTE" not in globals():
    run()
