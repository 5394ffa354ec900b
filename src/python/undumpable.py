# PR_SET_DUMPABLE for the two processes of the execution harness (src/python/program.ts puts this first in both
# programs; each calls it before any learner code exists). Standard library only.


def make_undumpable():
    """PR_SET_DUMPABLE 0, before any learner code runs (children inherit it): processes of the same uid can no
    longer open /proc/<pid>/mem or /proc/<pid>/fd/* of this process, nor ptrace it. The stdlib has no prctl:
    a minimal binding through the private _ctypes module (measured: ~3 ms less per start than `import ctypes`).
    A process may make itself dumpable again; that exposes only itself."""
    try:
        import _ctypes

        class Int(_ctypes._SimpleCData):
            _type_ = "i"

        class Function(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = Int

        class Libc:
            _handle = _ctypes.dlopen(None)

        return Function(("prctl", Libc))(4, 0, 0, 0, 0) == 0  # PR_SET_DUMPABLE = 4
    except Exception:  # a Python without _ctypes: the sandbox's seccomp filter still denies ptrace
        return False
