# Shared core of the embedded Python programs that run learner code: the execution harness's learner process
# (src/python/learner-process.py) and the Python server runner (src/backends/serve.py). src/python/program.ts puts
# src/python/limits.py and this text in front of either, so both have one copy of these rules at run time: the
# @endpoint decorator, how string arguments are converted and how results become JSON. Standard library only.
#
# Trust: nothing here trusts learner code. Arguments come from clients and are converted with ast.literal_eval
# and json only (never eval). Results are learner objects: their __repr__ may raise or lie, so every conversion
# is guarded and bounded in depth.
#
# Imports: the node classes and the parser come from the C module _ast; the Python modules ast and json (with
# contextlib, enum, re and collections behind them, ~15 ms per sandbox start) are imported only by the
# conversions that need them, so a call with plain JSON arguments never loads them.
import _ast

# ast.parse without the ast module: the same compile() call it makes.
ONLY_AST = _ast.PyCF_ONLY_AST

# @endpoint without methods: the sample tasks' endpoints take lists and objects (a board, a todo list), which only
# a JSON body (POST) carries; GET stays for simple query-string calls.
DEFAULT_METHODS = ["GET", "POST"]

# Routes registered by @endpoint as the module runs (serve.py serves them; the harness reads routes with ast).
ENDPOINTS = {}


def route(path, methods, func_name):
    """(path, METHODS) of an endpoint: path /<function name> unless given, always with a leading slash."""
    path = path if isinstance(path, str) and path else "/" + func_name
    if not path.startswith("/"):
        path = "/" + path
    verbs = [str(m).upper() for m in methods] if isinstance(methods, (list, tuple)) else list(DEFAULT_METHODS)
    return path, verbs


def endpoint(*args, **kwargs):
    """The decorator learner code uses, in every form: @endpoint, @endpoint(), @endpoint('/p'),
    @endpoint('/p', methods=[...]), @endpoint(path='/p'). A program's own `endpoint` replaces it."""
    def register(func, path, methods):
        path, verbs = route(path, methods, getattr(func, "__name__", "endpoint"))
        ENDPOINTS[path] = (func, verbs)
        return func

    if len(args) == 1 and callable(args[0]) and not kwargs:
        return register(args[0], None, None)
    path = kwargs.get("path", args[0] if args else None)
    methods = kwargs.get("methods", args[1] if len(args) > 1 else None)
    return lambda func: register(func, path, methods)


# ---------------------------------------------------------------- arguments

def accepts_str(node):
    """Whether an annotation (as an ast node) takes text as it is: str, Any, Optional[str], str | None, Union[str, X]."""
    if isinstance(node, _ast.Name):
        return node.id in ("str", "Any", "AnyStr")
    if isinstance(node, _ast.Attribute):  # typing.Any, typing.Optional[...] spelled in full
        return node.attr in ("str", "Any", "AnyStr")
    if isinstance(node, _ast.Constant) and isinstance(node.value, str):  # a quoted annotation
        return annotation_accepts_str(node.value)
    if isinstance(node, _ast.BinOp) and isinstance(node.op, _ast.BitOr):
        return accepts_str(node.left) or accepts_str(node.right)
    if isinstance(node, _ast.Subscript):
        outer = node.value.attr if isinstance(node.value, _ast.Attribute) else getattr(node.value, "id", None)
        if outer in ("Optional", "Union"):
            inner = node.slice.elts if isinstance(node.slice, _ast.Tuple) else [node.slice]
            return any(accepts_str(item) for item in inner)
    return False


def annotation_text(annotation):
    """The source text of an annotation: as written (the harness reads it with ast), or spelled from the object
    a running module holds (serve.py): `int` -> "int", Optional[str] -> "typing.Optional[str]"."""
    if annotation is None or isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type):
        return annotation.__name__
    try:
        return repr(annotation).lstrip("~+-")  # a TypeVar's repr is "~AnyStr"
    except BaseException:  # a learner object's __repr__ may raise anything
        return None


def annotation_accepts_str(annotation):
    text = annotation_text(annotation)
    if text is None:
        return False
    try:
        return accepts_str(compile(text.strip(), "<unknown>", "eval", ONLY_AST).body)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


def convert(value, annotation):
    """A string for a parameter annotated with a non-str type becomes the Python or JSON literal it spells;
    anything else stays as it is. Never eval."""
    if not isinstance(value, str) or annotation is None or annotation_accepts_str(annotation):
        return value
    import ast
    import json

    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return value


def convert_arguments(args, annotations):
    """Converts each argument by its parameter's annotation (name -> text or object; missing = unannotated)."""
    return {name: convert(value, annotations.get(name)) for name, value in (args or {}).items()}


# ---------------------------------------------------------------- results

LARGEST_JSON_INT = 2 ** 1023


def to_json(value, depth=0):
    """JSON types as they are, tuples (and lists) as lists, everything else as its repr; at most MAX_DEPTH deep."""
    if depth > MAX_DEPTH:
        return safe_repr(value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        # Beyond what a JSON reader's double holds (JavaScript would read Infinity, then send null) the digits
        # travel as text; past Python's int-to-text limit (4300 digits) json.dumps itself would raise.
        return value if -LARGEST_JSON_INT <= value <= LARGEST_JSON_INT else int_text(value)
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else repr(value)
    if isinstance(value, (list, tuple)):
        return [to_json(item, depth + 1) for item in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, str):
                name = key
            elif key is None or isinstance(key, (bool, int, float)):
                name = int_text(key) if isinstance(key, int) and not isinstance(key, bool) else json_key(key)
            else:
                name = safe_repr(key)
            out[name] = to_json(item, depth + 1)
        return out
    return safe_repr(value)


def json_key(key):
    """The JSON text of a None, bool or float dict key (null, true, 1.5, NaN), as json.dumps spells it."""
    import json

    return json.dumps(key)


def int_text(value):
    try:
        return str(value)
    except ValueError:
        return "<integer of %d bits>" % value.bit_length()


def safe_repr(value):
    try:
        text = repr(value)
        return text if isinstance(text, str) else "<unrepresentable %s>" % type(value).__name__
    except BaseException as error:  # a learner __repr__ may raise anything
        return "<unrepresentable %s: %s>" % (type(value).__name__, type(error).__name__)
