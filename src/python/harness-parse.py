# The scheduler's reading of the learner's code (src/python/harness.py): endpoints, parameters and syntax errors
# from the ast, without running anything. Part of the scheduler program (src/python/program.ts).

LEARNER_FILE = "<learner>"


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


def annotations(ep):
    """Parameter name -> annotation text, as core.convert_arguments takes them."""
    return {p["name"]: p["annotation"] for p in ep["parameters"]}


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
