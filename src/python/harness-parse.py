# Reading the learner's code without running it: endpoints, parameters and syntax errors from the ast, and the plan
# of a job. Part of the learner process's program (src/python/program.ts), used before it runs any learner code.

LEARNER_FILE = "<learner>"


def split_lines(source):
    """The lines of `source` with their ends, split at \r\n, \n and \r only, as the tokenizer counts them (what
    ast.get_source_segment splits by; str.splitlines also splits at \f, \x1c and others)."""
    lines, start, size, newline = [], 0, len(source), -1
    while start < size:
        if newline < start:  # the next \n, looked up once per \n (never a scan per line to the end)
            newline = source.find("\n", start)
            newline = size if newline < 0 else newline
        cr = source.find("\r", start, newline)
        end = (cr + 2 if cr + 1 == newline else cr + 1) if cr >= 0 else newline + 1
        lines.append(source[start:end])
        start = end
    return lines


def source_segment(lines, node):
    """ast.get_source_segment without the ast module: the text of `node` (offsets are UTF-8 bytes), or None."""
    end_line, end_col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
    if end_line is None or end_col is None:
        return None
    first, last = node.lineno - 1, end_line - 1
    if first == last:
        return lines[first].encode()[node.col_offset:end_col].decode()
    middle = lines[first + 1:last]
    return "".join([lines[first].encode()[node.col_offset:].decode()] + middle + [lines[last].encode()[:end_col].decode()])


# What the parse answer reports for an @endpoint that names no methods.
PARSED_DEFAULT_METHODS = ["GET"]


def decorator_route(dec, func_name):
    """(path, methods) if `dec` is an @endpoint form, else None. Reads the forms core.endpoint accepts."""
    call = dec if isinstance(dec, _ast.Call) else None
    target = call.func if call else dec
    if not (isinstance(target, _ast.Name) and target.id == "endpoint"):
        return None
    path = methods = None
    if call and (call.args or call.keywords):
        import ast  # literal_eval: only for the forms that carry a path or methods

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
    # The answer names GET for an @endpoint without methods, as the original's parser did and its clients expect;
    # a live backend (serve.py) still accepts a JSON body by POST there too (core.DEFAULT_METHODS).
    return route(path, methods if methods is not None else PARSED_DEFAULT_METHODS, func_name)


def describe_parameters(lines, args):
    def text(node):
        return None if node is None else source_segment(lines, node)

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
    lines = None
    for node in tree.body:
        if not isinstance(node, (_ast.FunctionDef, _ast.AsyncFunctionDef)):
            continue
        for dec in node.decorator_list:
            found = decorator_route(dec, node.name)
            if found:
                lines = lines or split_lines(source)
                endpoints.append({
                    "name": node.name,
                    "endpoint": found[0],
                    "methods": found[1],
                    "parameters": describe_parameters(lines, node.args),
                    "body": source_segment(lines, node) or "",
                })
                break
    return endpoints


def compile_learner(source):
    """(tree, None) or (None, syntax error message) with the learner's own line and column."""
    try:
        return compile(source, LEARNER_FILE, "exec", ONLY_AST), None
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


def plan(job):
    """(plan, tree, endpoints) of a job. The plan is what the scheduler needs before any learner code runs: the
    final message of a job that runs none (a listing, a syntax check, a syntax error, an unknown endpoint), the
    endpoint and converted arguments of a call, or which cases of a batch name no endpoint and every case's input.
    The learner process computes it and hands it over before it loads the module, which is why the scheduler may
    trust it."""
    op = job["op"]
    tree, error = compile_learner(job["code"])
    if op == "validate" and error is None:
        try:
            compile(tree, LEARNER_FILE, "exec")  # what only the compiler sees (e.g. 'return' outside function)
        except SyntaxError as exc:
            error = syntax_error(exc.lineno, exc.offset, exc.msg)
        return {"final": error or {"type": "valid"}}, None, None
    if error:
        return {"final": error}, None, None
    endpoints = parse_endpoints(job["code"], tree)
    if op == "parse":
        return {"final": {"type": "endpoints", "endpoints": endpoints}}, None, None
    if op == "call":
        ep = find_endpoint(endpoints, job.get("endpoint"))
        if ep is None:
            return {"final": dict(not_found(endpoints, job.get("endpoint")), type="error")}, None, None
        used = to_json(convert_arguments(job.get("args"), annotations(ep)))
        return {"op": op, "endpoint": ep["endpoint"], "args_used": used}, tree, endpoints
    missing = [None if find_endpoint(endpoints, case.get("endpoint")) else not_found(endpoints, case.get("endpoint"))
               for case in job["cases"]]
    # Every case's input goes to the scheduler, which hands each one to its own case's process only: from the job,
    # or, when they follow it on stdin (inputs_follow), read there by the scheduler itself.
    inputs = None if job.get("inputs_follow") else [case.get("input") for case in job["cases"]]
    return {"op": op, "missing": missing, "inputs": inputs}, tree, endpoints
