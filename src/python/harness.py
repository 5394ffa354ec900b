"""Execution harness: runs one job on the learner's code and reports through its own channel.

Two programs, each after src/python/core.py and src/python/harness-common.py (src/python/program.ts):
- The scheduler (this file), started as `python3 -I -S -c <program> <limits json> <learner program>`. It reads
  the limits, then the job on stdin, parses the code with ast (never runs it), and is the only writer of the
  result channel (fd 3; remotely, marked stdout lines). It never executes learner code.
- The learner process (src/python/learner-process.py): a fresh interpreter the scheduler starts before the job
  arrives (a pooled sandbox has it ready; nothing of it is shared with the scheduler, not even copy-on-write
  pages). For `call` it loads the module and calls the endpoint; for `tests` it loads the module once and forks
  one process per case when the scheduler orders it, so every case starts from fresh module state.
Every learner process that reports has its own report channel, a pipe the scheduler made for it (for a case,
passed to the learner process with the order); the scheduler reads case N's report only from case N's pipe.

What learner code can influence:
- The value (or error) reported for its own call or case, also by rewriting the harness code in its own
  processes: it could return that value anyway.
- Its own processes. It may start more; they have no report channel of their own, and the sandbox bounds them
  (memory/cpu/pids cgroup, RLIMIT_NPROC, RLIMIT_CPU well behind the time limit).
What it cannot influence:
- Another case's report: a channel's write end exists only in its case's process (the learner process closes
  its copy as it forks), learner processes are not dumpable (a sibling cannot open /proc/<pid>/fd or
  /proc/<pid>/mem, or ptrace it), and the scheduler accepts one line per channel, then closes it.
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
import socket
import sys
import time

LIMITS = {}  # the scheduler's, from argv; the learner process gets a copy, which nothing reads back
LEARNER_FILE = "<learner>"


# ---------------------------------------------------------------- parsing (never executes the code)

def decorator_route(dec, func_name):
    """(path, methods) if `dec` is an @endpoint form, else None. Reads the forms core.endpoint accepts."""
    call = dec if isinstance(dec, ast.Call) else None
    target = call.func if call else dec
    if not (isinstance(target, ast.Name) and target.id == "endpoint"):
        return None
    path = methods = None
    if call:
        given = [("path", arg) for arg in call.args[:1]] + [("methods", arg) for arg in call.args[1:2]]
        for name, node in given + [(kw.arg, kw.value) for kw in call.keywords]:
            try:
                value = ast.literal_eval(node)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if name == "path" and isinstance(value, str):
                path = value
            elif name == "methods" and isinstance(value, (list, tuple)):
                methods = value
    return route(path, methods, func_name)


def describe_parameters(source, args):
    def text(node):
        return None if node is None else ast.get_source_segment(source, node)

    params = []
    positional = args.posonlyargs + args.args
    first_default = len(positional) - len(args.defaults)
    for i, arg in enumerate(positional):
        default = args.defaults[i - first_default] if i >= first_default else None
        params.append(param(arg.arg, "default" if default else "regular", default is None, text(default), text(arg.annotation)))
    if args.vararg:
        params.append(param(args.vararg.arg, "args", False, None, text(args.vararg.annotation)))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        params.append(param(arg.arg, "default" if default else "regular", default is None, text(default), text(arg.annotation)))
    if args.kwarg:
        params.append(param(args.kwarg.arg, "kwargs", False, None, text(args.kwarg.annotation)))
    return params


def param(name, kind, required, default, annotation):
    return {"name": name, "type": kind, "required": required, "defaultValue": default, "annotation": annotation}


def parse_endpoints(source, tree):
    """Top-level functions decorated with @endpoint, in source order. Methods and nested functions are ignored."""
    endpoints = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for dec in node.decorator_list:
            found = decorator_route(dec, node.name)
            if found:
                endpoints.append({
                    "name": node.name,
                    "endpoint": found[0],
                    "methods": found[1],
                    "parameters": describe_parameters(source, node.args),
                    "body": ast.get_source_segment(source, node) or "",
                })
                break
    return endpoints


def compile_learner(source):
    """(tree, None) or (None, syntax error message) with the learner's own line and column."""
    try:
        return ast.parse(source, LEARNER_FILE), None
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        return None, syntax_error(getattr(error, "lineno", None), getattr(error, "offset", None),
                                  getattr(error, "msg", None) or str(error) or type(error).__name__)


def syntax_error(line, offset, msg):
    line = line or 1
    return {"type": "error", "error_type": "syntax_error", "message": "Syntax error at line %d: %s" % (line, msg),
            "line": line, "offset": offset or 0}


def find_endpoint(endpoints, wanted):
    wanted = wanted if isinstance(wanted, str) else ""
    for ep in endpoints:
        if ep["endpoint"] == wanted or ep["endpoint"] == "/" + wanted.lstrip("/"):
            return ep
    for ep in endpoints:
        if ep["name"] == wanted.lstrip("/"):
            return ep
    return None


def not_found(endpoints, wanted):
    paths = [ep["endpoint"] for ep in endpoints]
    return {"error_type": "endpoint_not_found", "paths": paths,
            "message": "No endpoint %s; available: %s" % (wanted, ", ".join(paths) or "none")}


def op_parse(job, emit):
    tree, error = compile_learner(job["code"])
    emit(error or {"type": "endpoints", "endpoints": parse_endpoints(job["code"], tree)})


def op_validate(job, emit):
    tree, error = compile_learner(job["code"])
    if error is None:
        try:
            compile(tree, LEARNER_FILE, "exec")  # catches what only the compiler sees (e.g. 'return' outside function)
        except SyntaxError as exc:
            error = syntax_error(exc.lineno, exc.offset, exc.msg)
    emit(error or {"type": "valid"})


# ---------------------------------------------------------------- reports from learner processes (untrusted)

LEARNER_ERRORS = ("runtime_error", "output_limit", "memory_limit")


class Channel:
    """The scheduler's end of one report channel: the first line counts, at most line_bytes; then it is closed.
    Non-blocking: processes the learner started may hold the write end open long after the case ended."""

    def __init__(self, fd):
        os.set_blocking(fd, False)
        self.fd = fd
        self.data = bytearray()
        self.open = True

    def pump(self):
        """Reads what is there: "line" (complete), "too_big", "eof" (closed without a line) or None (more to come)."""
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return None
        if not chunk:
            self.close()
            return "eof"
        start = len(self.data)
        self.data += chunk
        end = self.data.find(b"\n", start)  # only the new bytes: a long line costs linear time, not quadratic
        if 0 <= end < LIMITS["line_bytes"]:
            del self.data[end:]
            self.close()
            return "line"
        if len(self.data) >= LIMITS["line_bytes"]:
            self.close()
            return "too_big"
        return None

    def drain(self):
        """After its process ended: whatever it wrote before is in the pipe (its last write had to fit there)."""
        while self.open:
            before = len(self.data)
            state = self.pump()
            if state is not None or len(self.data) == before:
                return state
        return None

    def close(self):
        if self.open:
            self.open = False
            os.close(self.fd)

    def report(self):
        return read_report(bytes(self.data))


def read_report(line):
    """The fields of a learner process's report that the scheduler passes on, each checked."""
    try:
        report = json.loads(line)
    except (ValueError, RecursionError, MemoryError):
        report = None
    if not isinstance(report, dict):
        return {"error_type": "runtime_error", "message": "The program sent a report that is not a result"}
    fields = {"stdout": text_field(report.get("stdout")), "stderr": text_field(report.get("stderr"))}
    if "error_type" in report:
        kind = report["error_type"]
        fields["error_type"] = kind if kind in LEARNER_ERRORS else "runtime_error"
        fields["message"] = text_field(report.get("message"), 4000) or "The program failed"
        line = report.get("line")
        if type(line) is int and 0 < line < 10 ** 9:
            fields["line"] = line
        if text_field(report.get("traceback")):
            fields["traceback"] = text_field(report.get("traceback"))
        return fields
    if "value" not in report or too_deep(report["value"], MAX_DEPTH + 1):
        return {"error_type": "runtime_error", "message": "The program sent a report that is not a result"}
    if len(ENCODE(report["value"])) > LIMITS["result_bytes"]:
        return dict(fields, error_type="output_limit", message="The result is larger than %d bytes" % LIMITS["result_bytes"])
    fields["value"] = report["value"]
    return fields


def text_field(value, limit=None):
    return value[: limit or LIMITS["output_bytes"]] if isinstance(value, str) else ""


def too_deep(value, limit):
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth >= limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def describe_death(status, what):
    """How a learner process that never reported ended, from its wait status."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "signal %d" % number
        if number == signal.SIGXCPU:
            return {"error_type": "timeout", "message": "CPU time limit exceeded (%d s)" % LIMITS["cpu_seconds"]}
        # SIGKILL before the time limit: the kernel's memory killer, or the hard CPU limit. The server tells the
        # two apart with the sandbox's cgroup and turns the first into memory_limit.
        verb = "was killed" if number == signal.SIGKILL else "crashed"
        return {"error_type": "runtime_error", "message": "The %s %s (%s)" % (what, verb, name), "signal": name}
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    if code == 0:
        return {"error_type": "runtime_error", "message": "The %s ended without a result" % what}
    return {"error_type": "runtime_error", "message": "The %s exited with code %d before returning a result" % (what, code)}


def timed_out():
    return {"error_type": "timeout", "message": "Time limit exceeded (%d ms)" % LIMITS["timeout_ms"]}


def too_big():
    return {"error_type": "output_limit", "message": "The result is larger than %d bytes" % LIMITS["result_bytes"]}


# ---------------------------------------------------------------- the learner process

class Learner:
    """The learner process (src/python/learner-process.py), started before the job arrives. Its stdin brings the
    job, its report fd is a pipe to us, its control fd a socket for the orders of a test batch; fd 3 is /dev/null."""

    def __init__(self, program):
        job_read, self.job = os.pipe()
        self.report, report_write = os.pipe()
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        passed = (report_write, theirs.fileno())
        for fd in passed:
            os.set_inheritable(fd, True)  # only this spawn inherits them: they are closed right after
        python = sys.executable or "/usr/bin/python3"
        argv = [python, "-I", "-S", "-c", program, ENCODE(LIMITS)] + [str(fd) for fd in passed]
        actions = [(os.POSIX_SPAWN_DUP2, job_read, 0), (os.POSIX_SPAWN_OPEN, 3, os.devnull, os.O_WRONLY, 0)]
        try:
            self.pid = os.posix_spawn(python, argv, dict(os.environ), file_actions=actions)
        except OSError:
            self.pid = None  # too many processes: the job is answered with an error
        for fd in (job_read, report_write):
            os.close(fd)
        theirs.close()

    def send(self, job):
        """Hands the job over; the time limit counts from here."""
        try:
            write_all(self.job, ENCODE(job))
        except OSError:
            pass  # it died already: await_report describes how
        os.close(self.job)
        self.job = None

    def stop(self):
        if self.job is not None:
            os.close(self.job)  # no job: it leaves
            self.job = None
        if self.pid:
            kill(self.pid)


def kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def await_report(fd, pid, what):
    """The report of our child `pid` on `fd`, its death, or the time limit from now, whichever comes first."""
    channel = Channel(fd)
    deadline = time.monotonic() + LIMITS["timeout_ms"] / 1000.0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            channel.close()
            kill(pid)
            return timed_out()
        # Its death is looked for every 10 ms: processes it started may hold the channel open after it ended.
        readable = select.select([fd] if channel.open else [], [], [], min(left, 0.01))[0]
        state = channel.pump() if readable else None
        if state is None:
            ended, status = os.waitpid(pid, os.WNOHANG)
            if not ended:
                continue
            state = channel.drain()
            if state not in ("line", "too_big"):
                channel.close()
                return describe_death(status, what)
        if state == "line":
            return channel.report()
        if state == "too_big":
            kill(pid)
            return too_big()


def target(ep):
    """What the learner process needs to call an endpoint: its function and the parameters' annotations."""
    return {"name": ep["name"], "annotations": {p["name"]: p["annotation"] for p in ep["parameters"]}}


def unable_to_start():
    return {"type": "error", "error_type": "runtime_error", "message": "Could not start the program (too many processes)"}


# ---------------------------------------------------------------- operations

def op_call(job, emit, learner):
    tree, error = compile_learner(job["code"])
    if error:
        return emit(error)
    endpoints = parse_endpoints(job["code"], tree)
    ep = find_endpoint(endpoints, job.get("endpoint"))
    if ep is None:
        return emit(dict(not_found(endpoints, job.get("endpoint")), type="error"))
    if not learner.pid:
        return emit(unable_to_start())
    args = job.get("args") or {}
    learner.send({"op": "call", "code": job["code"], "target": target(ep), "args": args})
    fields = await_report(learner.report, learner.pid, "program")
    used = to_json(convert_arguments(args, target(ep)["annotations"]))
    emit(dict(fields, type="result" if "value" in fields else "error", endpoint=ep["endpoint"], args_used=used))


class Case:
    def __init__(self, channel):
        self.channel = channel
        self.started = time.monotonic()
        self.deadline = self.started + LIMITS["timeout_ms"] / 1000.0
        self.status = None  # wait status the loader told, once the process ended


def op_tests(job, emit, learner):
    """The learner process loads the module once, then runs the cases, at most `parallelism` at a time."""
    tree, error = compile_learner(job["code"])
    if error:
        return emit(error)
    endpoints = parse_endpoints(job["code"], tree)
    if not learner.pid:
        return emit(unable_to_start())
    cases = job["cases"]
    found = [find_endpoint(endpoints, case.get("endpoint")) for case in cases]
    learner.send({"op": "tests", "code": job["code"],
                  "cases": [{"target": target(ep), "input": case.get("input")} if ep else None for case, ep in zip(cases, found)]})
    loaded = await_report(learner.report, learner.pid, "program")
    if "value" not in loaded:
        if not loaded["message"].startswith("While loading your code"):
            loaded["message"] = "While loading your code: " + loaded["message"]
        return emit(dict(loaded, type="error"))
    learner.control.setblocking(False)  # a learner process that stops reading must not stall the scheduler
    run_cases(cases, endpoints, learner.control, emit)
    emit({"type": "done"})


def run_cases(cases, endpoints, control, emit):
    running = {}  # case index -> Case
    upcoming = iter(range(len(cases)))
    pending = len(cases)
    loader_alive = True

    def finish(index, fields):
        case = running.pop(index)
        case.channel.close()
        emit(dict(fields, type="case", index=index, duration_ms=round((time.monotonic() - case.started) * 1000, 2)))

    while pending:
        while len(running) < LIMITS["parallelism"] and len(running) < pending:
            index = next(upcoming)
            ep = find_endpoint(endpoints, cases[index].get("endpoint"))
            channel = order_case(control, index) if ep and loader_alive else None
            if channel is None:
                pending -= 1
                why = not_found(endpoints, cases[index].get("endpoint")) if ep is None else {
                    "error_type": "runtime_error", "message": "The process running the tests ended before this case"}
                emit(dict(why, type="case", index=index, duration_ms=0))
                continue
            running[index] = Case(channel)
        if not running:
            continue
        wait = max(0.0, min(case.deadline for case in running.values()) - time.monotonic())
        fds = [case.channel.fd for case in running.values() if case.channel.open]
        ready = select.select(fds + ([control] if loader_alive else []), [], [], wait)[0]
        if control in ready:
            loader_alive = read_statuses(control, running)
        for index, case in list(running.items()):
            state = case.channel.pump() if case.channel.open and case.channel.fd in ready else None
            if state is None and case.status is not None:  # it ended: what it wrote before is in the pipe
                state = case.channel.drain()
            if state == "line":
                finish(index, case.channel.report())
            elif state == "too_big":
                tell(control, KILL, index)
                finish(index, too_big())
            elif case.status is not None:
                finish(index, describe_death(case.status, "case"))
            elif not case.channel.open and not loader_alive:
                finish(index, {"error_type": "runtime_error", "message": "The case ended without a result"})
            elif time.monotonic() >= case.deadline:
                tell(control, KILL, index)
                finish(index, timed_out())
            else:
                continue
            pending -= 1


def order_case(control, index):
    """A new report channel for case `index`, its write end sent to the loader with the order; None if the
    loader is gone."""
    read_fd, write_fd = os.pipe()
    try:
        socket.send_fds(control, [ORDER.pack(RUN, index)], [write_fd])
    except OSError:
        os.close(read_fd)
        return None
    finally:
        os.close(write_fd)
    return Channel(read_fd)


def tell(control, kind, index):
    try:
        control.send(ORDER.pack(kind, index))
    except OSError:
        pass  # a loader that does not listen cannot stop its case; the sandbox ends it with the run


def read_statuses(control, running):
    """Takes the loader's news of ended cases (a bounded number per round); False once the loader is gone."""
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

def op_parse_only(operation):
    return lambda job, emit, learner: operation(job, emit)


OPERATIONS = {"parse": op_parse_only(op_parse), "validate": op_parse_only(op_validate), "call": op_call, "tests": op_tests}


def main(limits, learner_program, read_job, emit):
    LIMITS.update(limits)
    learner = Learner(learner_program)
    try:
        job = json.loads(read_job())  # a pooled sandbox waits here, fully started, for its one job
        OPERATIONS[job["op"]](job, emit, learner)
    finally:
        learner.stop()


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


if "_REMOTE_JOB" in globals():
    # OneCompiler: job, limits, learner program and marker are prepended to the program by the adapter; the
    # service has its own limits. Learner output shares stdout, so each message starts on a line of its own.
    def _write_remote(line):
        sys.__stdout__.write("\n" + _REMOTE_MARKER + line)  # noqa: F821
        sys.__stdout__.flush()

    main(json.loads(_REMOTE_LIMITS), _REMOTE_LEARNER, lambda: _REMOTE_JOB, line_emitter(_write_remote))  # noqa: F821
else:
    _limits = json.loads(sys.argv[1])
    set_limits(_limits["memory_mb"] * 1024 * 1024, _limits["max_processes"], _limits["file_bytes"],
               max(64, _limits["parallelism"] + 32))
    make_undumpable()
    main(_limits, sys.argv[2], sys.stdin.read, line_emitter(lambda line: write_all(3, line)))
# Leave now, without the interpreter's shutdown (nothing of ours needs it).
for _stream in (sys.__stdout__, sys.__stderr__):
    try:
        _stream.flush()
    except BaseException:
        pass
os._exit(0)
