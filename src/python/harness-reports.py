# How the scheduler (src/python/harness.py) reads what learner processes send: everything here is untrusted input,
# bounded in size, depth and shape before a field of it is passed on. Part of the scheduler program
# (src/python/program.ts).
import os
import _signal

SIGNAL_NAMES = {getattr(_signal, name): name for name in dir(_signal) if name.startswith("SIG") and "_" not in name}

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
        report = DECODE(line.decode("utf-8", "replace"))
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
        name = SIGNAL_NAMES.get(number, "signal %d" % number)
        if number == _signal.SIGXCPU:
            return {"error_type": "timeout", "message": "CPU time limit exceeded (%d s)" % LIMITS["cpu_seconds"]}
        # SIGKILL before the time limit: the kernel's memory killer, or the hard CPU limit. The server tells the
        # two apart with the sandbox's cgroup and turns the first into memory_limit.
        verb = "was killed" if number == _signal.SIGKILL else "crashed"
        return {"error_type": "runtime_error", "message": "The %s %s (%s)" % (what, verb, name), "signal": name}
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    if code == 0:
        return {"error_type": "runtime_error", "message": "The %s ended without a result" % what}
    return {"error_type": "runtime_error", "message": "The %s exited with code %d before returning a result" % (what, code)}


def timed_out():
    return {"error_type": "timeout", "message": "Time limit exceeded (%d ms)" % LIMITS["timeout_ms"]}


def too_big():
    return {"error_type": "output_limit", "message": "The result is larger than %d bytes" % LIMITS["result_bytes"]}
