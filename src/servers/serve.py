# Runs one learner "Python server" inside the sandbox (deprecated feature, kept for old clients).
#
# Trust: this file is ours; the learner's program (read from stdin) is not. It runs in a sandbox with no
# network of its own, so the backend cannot reach 127.0.0.1:PORT in here directly. A relay thread accepts
# connections on a Unix socket in a folder the backend shares with the sandbox and forwards each one to
# 127.0.0.1:PORT inside the sandbox. The learner's program can break the relay, but only for its own server.
#
# argv: [relay socket path or "", memory limit bytes, process limit, file size limit bytes, cpu seconds]
# Standard library only.
import builtins
import json
import os
import resource
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def set_limits(memory, processes, file_size, cpu):
    # Hard limits: the learner's code cannot raise them again.
    for limit, value in (
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_NPROC, processes),
        (resource.RLIMIT_FSIZE, file_size),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NOFILE, 256),
    ):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass


def pipe(source, target):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, target):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def relay_one(client, port):
    try:
        upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
        upstream.settimeout(None)
    except OSError:
        # Nothing listens on PORT yet (or any more): answer like a closed port would.
        client.close()
        return
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    pipe(upstream, client)


def start_relay(path, port):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)

    def accept():
        while True:
            client, _ = listener.accept()
            threading.Thread(target=relay_one, args=(client, port), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


ENDPOINTS = {}


def endpoint(path=None, methods=None):
    # Same forms as the execution harness: @endpoint, @endpoint(), @endpoint('/p'), @endpoint(path='/p', methods=[...]).
    def register(func, route, verbs):
        ENDPOINTS[route or "/" + func.__name__] = (func, [m.upper() for m in (verbs or ["GET", "POST"])])
        return func

    if callable(path):
        return register(path, None, methods)
    return lambda func: register(func, path, methods)


class EndpointHandler(BaseHTTPRequestHandler):
    def handle_call(self, method):
        url = urlparse(self.path)
        found = ENDPOINTS.get(url.path)
        if not found:
            return self.reply(404, {"error": "No endpoint " + url.path, "endpoints": sorted(ENDPOINTS)})
        func, verbs = found
        if method not in verbs:
            return self.reply(405, {"error": method + " not allowed on " + url.path})
        kwargs = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("content-length") or 0)
        if length:
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                return self.reply(400, {"error": "Body is not valid JSON"})
            if not isinstance(body, dict):
                return self.reply(400, {"error": "Body must be a JSON object of arguments"})
            kwargs.update(body)
        try:
            result = func(**kwargs)
        except Exception as error:
            return self.reply(500, {"error": type(error).__name__ + ": " + str(error)})
        self.reply(200, {"result": result})

    def reply(self, status, payload):
        body = json.dumps(payload, default=repr).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.handle_call("GET")

    def do_POST(self):
        self.handle_call("POST")

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.command, self.path))


def main():
    relay_path, memory, processes, file_size, cpu = sys.argv[1:6]
    source = sys.stdin.read()
    port = int(os.environ["PORT"])
    set_limits(int(memory), int(processes), int(file_size), int(cpu))
    if relay_path:
        start_relay(relay_path, port)
    builtins.endpoint = endpoint
    module = {"__name__": "__main__", "endpoint": endpoint}
    try:
        exec(compile(source, "main.py", "exec"), module)
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        sys.exit(1)
    if not ENDPOINTS:
        return  # The program served (or not) on its own and has finished.
    server = ThreadingHTTPServer(("127.0.0.1", port), EndpointHandler)
    print("Serving %d endpoint(s) on port %d" % (len(ENDPOINTS), port), flush=True)
    server.serve_forever()


main()
