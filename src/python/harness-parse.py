# Reading the learner's code without running it: endpoints, parameters and syntax errors from the ast, and the plan
# of a job. Part of the learner process's program (src/python/program.ts), used before it runs any learner code.

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


def plan(job):
    """(plan, tree, endpoints) of a job. The plan is what the scheduler needs before any learner code runs: the
    final message of a job that runs none (a listing, a syntax check, a syntax error, an unknown endpoint), the
    endpoint and converted arguments of a call, or which cases of a batch name no endpoint. The learner process
    computes it and hands it over before it loads the module, which is why the scheduler may trust it."""
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
    return {"op": op, "missing": missing}, tree, endpoints
