# What the two programs of the execution harness share: the learner process (src/python/learner-process.py) and
# the scheduler it starts (src/python/harness.py); src/python/program.ts assembles both. Only C modules: the
# scheduler starts with as few imports as it can (json's Python layer alone would cost it ~13 ms per sandbox).
import os
import _json
import _struct

# The control socket between the scheduler and the learner process of a test batch, one message per packet:
# run case N (its report channel attached), kill case N; and back: case N's process ended with this wait status.
RUN, KILL = b"R", b"K"
ORDER = _struct.Struct("!cI")
ENDED = _struct.Struct("!Ii")


def _not_json(value):
    raise TypeError("%s is not JSON" % type(value).__name__)


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


class _DecodeOptions:
    """What the C scanner of the json module reads from its decoder: plain JSON, NaN and Infinity refused."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_no_constant)


_SCAN = _json.make_scanner(_DecodeOptions)
# markers None: no cycle check (what is encoded here comes from JSON or from core.to_json, never cyclic).
_ENCODE = _json.make_encoder(None, _not_json, _json.encode_basestring_ascii, None, ": ", ", ", False, False, False)


def ENCODE(value):
    """One line of ASCII JSON, with the encoder captured when the program started: in the learner process, patching
    json.dumps or json.JSONEncoder afterwards changes nothing here. Learner code can still decide its own case's
    value by deeper rewriting: it could return that value anyway."""
    return "".join(_ENCODE(value, 0))


def DECODE(text):
    """A JSON document (str); ValueError (or RecursionError, MemoryError) if it is not exactly one."""
    text = text.strip(" \t\r\n")
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, SystemError):
        # The scanner looks its error class up in sys.modules; without json.decoder loaded, malformed input ends
        # as SystemError.
        raise ValueError("not JSON")
    if end != len(text):
        raise ValueError("more than one JSON value")
    return value


def encode_line(message, cap):
    """`message` as one line of ASCII JSON shorter than `cap` bytes; long texts are cut first; None if the value
    alone is too large."""
    while True:
        line = ENCODE(message)
        if len(line) < cap:
            return line + "\n"
        field = max(("stdout", "stderr", "traceback", "message"), key=lambda name: len(message.get(name) or ""))
        text = message.get(field) or ""
        if len(text) < 256:
            return None
        message = dict(message, **{field: text[: len(text) // 2] + "\n[cut: the report was too large]"})


def write_all(fd, text):
    view = memoryview(text.encode())
    while view:
        view = view[os.write(fd, view):]
