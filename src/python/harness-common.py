# What the two programs of the execution harness share: the scheduler (src/python/harness.py) and the learner
# process it starts (src/python/learner-process.py). Each is assembled as core.py + this file + its own file
# (src/python/program.ts). Standard library only.
import os
import struct

# Captured when the program starts, before any learner code exists: in the learner process, patching json.dumps
# (or json.JSONEncoder.encode) afterwards does not change how a report is written. Learner code can still decide
# its own case's value by deeper rewriting: it could return that value anyway.
ENCODE = json.JSONEncoder().encode

# The control socket between the scheduler and the learner process of a test batch, one message per packet:
# run case N (its report channel attached), kill case N; and back: case N's process ended with this wait status.
RUN, KILL = b"R", b"K"
ORDER = struct.Struct("!cI")
ENDED = struct.Struct("!Ii")


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
