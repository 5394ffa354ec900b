# The learner side of the execution harness: everything here runs in processes forked from the scheduler
# (src/python/harness.py) that load or call the learner's code, so learner code can read and rewrite all of it.
# What these processes report is therefore learner-controlled input to the scheduler, which checks it; nothing
# here is a limit or a verdict. Concatenated after src/python/core.py and before harness.py (program.ts).
import io
import os
import select
import socket
import struct
import sys
import traceback

LEARNER_FILE = "<learner>"

# Captured before any learner code runs, so patching json.dumps (or json.JSONEncoder.encode) in the module does
# not change how a report is written. A learner can still decide its own case's value: it could return it anyway.
ENCODE = json.JSONEncoder().encode

# Messages on the control socket between the scheduler and the loader: run case N (with its report channel
# attached), kill case N; and back: case N's process ended with this wait status.
RUN, KILL = b"R", b"K"
ORDER = struct.Struct("!cI")
ENDED = struct.Struct("!Ii")


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


def encode_line(message, cap):
    """`message` as one line of ASCII JSON shorter than `cap` bytes; long texts are cut first; None if the
    value alone is too large. Used for reports here and by the scheduler for its own lines."""
    while True:
        line = ENCODE(message)
        if len(line) < cap:
            return line + "\n"
        field = max(("stdout", "stderr", "traceback", "message"), key=lambda name: len(message.get(name) or ""))
        text = message.get(field) or ""
        if len(text) < 256:
            return None
        message = dict(message, **{field: text[: len(text) // 2] + "\n[cut: the report was too large]"})


def write_report(fd, message):
    """Writes this process's one report on its own channel and closes it (EOF before the slow teardown)."""
    line = encode_line(message, LIMITS["line_bytes"])
    value = ENCODE(message["value"]) if "value" in message else ""
    if line is None or len(value) > LIMITS["result_bytes"]:
        line = encode_line(result_too_large(message), LIMITS["line_bytes"])
    view = memoryview(line.encode())
    while view:
        view = view[os.write(fd, view):]
    os.close(fd)


def result_too_large(message):
    return {"error_type": "output_limit", "message": "The result is larger than %d bytes" % LIMITS["result_bytes"],
            "stdout": message.get("stdout", ""), "stderr": message.get("stderr", "")}


# ---------------------------------------------------------------- becoming a learner process

def enter_learner_process(keep):
    """Runs first in every fork of the scheduler, before any learner code: the scheduler's channels are out of
    reach, and the per-process limits that only learner processes carry are set."""
    # fd 3 is the scheduler's result channel; learner code finds /dev/null there (its writes go nowhere).
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 3)
    os.close(null)
    low = 4
    for fd in sorted(keep) + [max_fds()]:
        os.closerange(low, fd)  # the scheduler's other channels (other cases, the control socket's other end)
        low = fd + 1
    set_cpu_limit(LIMITS["cpu_seconds"])
    cap("RLIMIT_NOFILE", 64, 64)
    # Not dumpable (inherited from the scheduler, stated again): a sibling case or its grandchildren cannot open
    # this process's /proc/<pid>/fd or /proc/<pid>/mem, so they cannot write into this case's channel.


def max_fds():
    try:
        return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ValueError, OSError):
        return 1024


# ---------------------------------------------------------------- loading and calling

def learner_line(tb):
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename == LEARNER_FILE:
            line = lineno
    return line


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
    line = learner_line(error.__traceback__)
    text = "%s: %s" % (type(error).__name__, safe_text(error))
    if line is not None:
        text += " (line %d)" % line
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == LEARNER_FILE]
    return {"error_type": "runtime_error", "message": text, "line": line,
            "traceback": "".join(traceback.format_list(frames))}


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


def call_endpoint(module, ep, args):
    """Calls one endpoint; returns the report. Learner output is captured per call."""
    used = convert_arguments(args, {p["name"]: p["annotation"] for p in ep["parameters"]})
    func = module.get(ep["name"])
    if not callable(func):
        return {"error_type": "runtime_error", "message": "%s is not a function" % ep["name"]}
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


def call_process(tree, ep, args, fd):
    """The `call` operation's learner process: loads the module, calls one endpoint, reports on `fd`."""
    module, loaded = load_module(tree)
    if module is None:
        return write_report(fd, loaded)
    report = call_endpoint(module, ep, args)
    report["stdout"] = loaded[0] + report["stdout"]
    report["stderr"] = loaded[1] + report["stderr"]
    write_report(fd, report)


# ---------------------------------------------------------------- the loader of a test batch

def loader_process(tree, endpoints, cases, control, load_fd):
    """Loads the module once, reports how that went on `load_fd`, then forks one process per case the scheduler
    orders (fresh module state each), handing it the report channel that came with the order. Reaps its
    children and tells the scheduler how each ended (for the message of a case that died without a report)."""
    module, loaded = load_module(tree)
    write_report(load_fd, {"value": None} if module else loaded)
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
        order, fds, _, _ = socket.recv_fds(control, ORDER.size, 1)
        if len(order) != ORDER.size:
            return  # the scheduler is gone
        kind, index = ORDER.unpack(order)
        if kind == KILL:
            for pid in [pid for pid, case in children.items() if case == index]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        elif kind == RUN and fds and index < len(cases):
            pid = os.fork()
            if pid == 0:
                try:
                    control.close()
                    case = cases[index]
                    ep = find_endpoint(endpoints, case.get("endpoint"))
                    write_report(fds[0], call_endpoint(module, ep, case.get("input")))
                finally:
                    os._exit(0)
            children[pid] = index
        for fd in fds:
            os.close(fd)


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
