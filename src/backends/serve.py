# Runs one learner backend as a live server (for browser tests, and the deprecated Python servers). Standard
# library only. Started after src/python/limits.py and src/python/core.py (src/python/program.ts): @endpoint, argument conversion,
# result JSON and rlimits are the execution harness's own, so an endpoint answers the same here as through
# execute-endpoint.
#
# Trust: this file is ours; the learner's program (read from stdin) is not. It runs inside the sandbox with no
# network of its own, so nobody outside can reach 127.0.0.1:PORT in here. The backend listens on the host's
# 127.0.0.1:PORT and carries each connection to us over fd 4 (relay.py, put in front of this file, connects it
# to 127.0.0.1:PORT in here). fd 3 is the ready channel to the backend. The learner's code runs in this same
# process and can break the relay or the ready signal, but only for its own server: no host folder is shared,
# the backend resolves no path in here, and fd 3 is one pipe the backend reads one byte from.
#
# argv: "relay" when sandboxed ("" otherwise: the program then binds the host's port itself),
#       then hard limits: address space bytes, processes, file size bytes, CPU seconds.
import builtins
import inspect
import json
import os
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def set_server_limits(memory, processes, file_size, cpu):
    # Hard limits (soft = hard, limits.set_limits): the learner's code cannot raise them again.
    set_limits(memory, processes, file_size, 256)
    cap("RLIMIT_CPU", cpu, cpu)
    # Every connection costs threads (two relay directions and one handler); with the address-space limit the
    # default 8 MB stacks would allow only a few dozen of them.
    threading.stack_size(1024 * 1024)
    # Below the backend and executions when it spins: the learner's code cannot raise its priority back.
    os.nice(10)


# --- ready signal: tell the backend once something listens on PORT -----------------------------------------


READY_FD = 3


def signal_ready_on_listen(port):
    # An event instead of polling the port: the first listen() on PORT (the learner's own server, or ours below)
    # writes one byte to the ready channel and closes it.
    os.set_inheritable(READY_FD, False)  # the learner's child processes do not get it
    original = socket.socket.listen
    done = []

    def listen(self, *args):
        original(self, *args)
        if done or self.family not in (socket.AF_INET, socket.AF_INET6):
            return
        try:
            if self.getsockname()[1] != port:
                return
            done.append(True)
            os.write(READY_FD, b"1")
            os.close(READY_FD)
        except OSError:
            pass

    socket.socket.listen = listen


# --- @endpoint: programs that only define functions are served over HTTP -------------------------------------
# The decorator (core.endpoint) registers routes in core.ENDPOINTS; the default methods are core.DEFAULT_METHODS.


class BadRequest(Exception):
    pass


def arguments_for(func, kwargs):
    # The execution harness's conversion (core.convert), by the annotations the function holds. Never eval.
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return kwargs
    annotations = {name: p.annotation for name, p in parameters.items() if p.annotation is not inspect.Parameter.empty}
    kwargs = convert_arguments(kwargs, annotations)
    try:
        inspect.signature(func).bind(**kwargs)
    except TypeError as error:
        raise BadRequest("Bad arguments: %s" % error)
    except ValueError:
        pass
    return kwargs


class EndpointHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def arguments(self, url):
        kwargs = {key: values[-1] for key, values in parse_qs(url.query).items()}
        length = int(self.headers.get("content-length") or 0)
        if length:
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                raise BadRequest("The body is not valid JSON")
            if not isinstance(body, dict):
                raise BadRequest("The body must be a JSON object of arguments")
            kwargs.update(body)
        return kwargs

    def call(self):
        url = urlparse(self.path)
        found = ENDPOINTS.get(url.path) or ENDPOINTS.get(url.path.rstrip("/"))
        if not found:
            return self.reply(404, {"error": "No endpoint %s; have: %s" % (url.path, ", ".join(sorted(ENDPOINTS)))})
        func, verbs = found
        if self.command not in verbs:
            return self.reply(405, {"error": "%s is not allowed on %s; use %s" % (self.command, url.path, ", ".join(verbs))})
        try:
            kwargs = arguments_for(func, self.arguments(url))
        except BadRequest as error:
            return self.reply(400, {"error": str(error)})
        try:
            result = func(**kwargs)
        except Exception as error:
            traceback.print_exc()  # into the server's output tail
            return self.reply(500, {"error": "%s: %s" % (type(error).__name__, error)})
        self.reply(200, {"result": to_json(result)})  # the JSON execute-endpoint gives (core.to_json)

    def reply(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.cors()
        self.end_headers()
        self.wfile.write(body)

    def cors(self):
        # Pages of the tutor call the learner's server from another origin; it holds no credentials.
        self.send_header("access-control-allow-origin", "*")
        self.send_header("access-control-allow-headers", "content-type")
        self.send_header("access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")

    def do_OPTIONS(self):
        self.send_response(204)
        self.cors()
        self.send_header("content-length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = call

    def log_message(self, fmt, *args):
        sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))


def run_learner_code(source):
    # Runs as the __main__ module, so `if __name__ == "__main__": ...` starts the learner's own server.
    module = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(compile(source, "main.py", "exec"), module)
    except SystemExit:
        raise
    except BaseException:
        kind, error, trace = sys.exc_info()
        traceback.print_exception(kind, error, trace.tb_next)  # without this file's frame
        sys.exit(1)


def main():
    relay, memory, processes, file_size, cpu = sys.argv[1:6]
    source = sys.stdin.read()
    port = int(os.environ["PORT"])
    os.environ.pop("PWD", None)  # set by bwrap; the program's environment is PATH, HOME, LANG and PORT
    sys.argv = ["main.py"]
    set_server_limits(int(memory), int(processes), int(file_size), int(cpu))
    if relay:
        start_relay(port)
    signal_ready_on_listen(port)
    builtins.endpoint = endpoint  # a program that defines its own `endpoint` shadows it
    run_learner_code(source)
    if not ENDPOINTS:
        return  # the program served on its own (or not at all) and has finished
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), EndpointHandler)
    except OSError as error:
        sys.stderr.write("Cannot serve the endpoints on port %d: %s\n" % (port, error))
        return
    print("Serving %s on port %d" % (", ".join(sorted(ENDPOINTS)), port), flush=True)
    server.serve_forever()


main()
