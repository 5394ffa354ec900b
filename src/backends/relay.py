# The sandbox side of a learner backend's connections (src/backends/start.ts). Standard library only.
# start.ts puts this text in front of serve.py; serve.py calls start_relay() before any learner code runs.
#
# Trust: the backend owns 127.0.0.1:PORT on the host and carries every connection to us as frames over RELAY_FD,
# one end of a socket pair it created before this sandbox started. No path is involved on either side, so
# nothing in this sandbox's /tmp can redirect the backend. We connect each connection to 127.0.0.1:PORT in here,
# where the learner's server listens. The learner's code runs in this same process and can break this relay,
# but only for its own server: the backend checks every frame and bounds what it buffers (src/backends/relay.ts).
#
# Protocol (src/backends/mux.ts is the other end): a 9-byte header -- kind (1 byte), connection id (4 bytes),
# payload length (4 bytes), big-endian -- then the payload (at most 64 KiB).
#   OPEN  backend -> us: connect a new connection to 127.0.0.1:PORT
#   DATA  both ways: bytes of a connection
#   END   both ways: the sender sends no more bytes on it (half-close)
#   CLOSE both ways: the connection is gone (refused, reset, or closed by the client)
#   ACK   both ways: payload = 4-byte count of bytes consumed; the other side may send that many more
# Each direction of a connection has at most WINDOW bytes unacknowledged, so a slow reader holds a bounded buffer.
#
# One thread with a selector serves every connection: a burst of connections costs sockets (bounded by the
# backend's connection limit), never threads, which count against the sandbox's process limit.
import errno
import selectors
import socket
import struct
import sys
import threading

RELAY_FD = 4
HEADER = struct.Struct(">BII")
OPEN, DATA, END, CLOSE, ACK = 1, 2, 3, 4, 5
MAX_PAYLOAD = 64 * 1024
WINDOW = 256 * 1024
COUNT = struct.Struct(">I")


class ChannelGone(Exception):
    """The backend closed the channel: the server is being stopped, so the relay ends quietly."""


class Connection:
    def __init__(self, cid, sock, connected):
        self.id = cid
        self.sock = sock
        self.connected = connected
        self.outgoing = bytearray()  # from the backend, not yet written to the learner's server
        self.credit = WINDOW  # bytes we may still send to the backend
        self.backend_ended = False  # END received: shut our write side once `outgoing` is written
        self.write_shut = False
        self.read_ended = False  # the learner's server ended its side; END sent
        self.interest = 0


class Relay:
    def __init__(self, channel, port):
        self.channel = channel
        self.port = port
        self.selector = selectors.DefaultSelector()
        self.inbox = bytearray()
        self.outbox = bytearray()
        self.connections = {}
        self.channel_events = 0

    # --- the channel to the backend ---------------------------------------------------------------------------

    def send(self, kind, cid, payload=b""):
        self.outbox += HEADER.pack(kind, cid, len(payload))
        self.outbox += payload
        self.flush()

    def flush(self):
        try:
            while self.outbox:
                del self.outbox[: self.channel.send(self.outbox)]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            raise ChannelGone()
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.outbox else 0)
        if events != self.channel_events:
            self.selector.modify(self.channel, events, None)
            self.channel_events = events

    def read_channel(self):
        try:
            data = self.channel.recv(4 * MAX_PAYLOAD)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            raise ChannelGone()
        if not data:
            raise ChannelGone()
        self.inbox += data
        while len(self.inbox) >= HEADER.size:
            kind, cid, length = HEADER.unpack_from(self.inbox)
            if len(self.inbox) < HEADER.size + length:
                break
            payload = bytes(self.inbox[HEADER.size : HEADER.size + length])
            del self.inbox[: HEADER.size + length]
            self.receive(kind, cid, payload)

    def receive(self, kind, cid, payload):
        if kind == OPEN:
            return self.open(cid)
        conn = self.connections.get(cid)
        if conn is None:
            return  # already closed here while the frame was under way
        if kind == DATA:
            conn.outgoing += payload
        elif kind == END:
            conn.backend_ended = True
        elif kind == ACK:
            conn.credit += COUNT.unpack(payload)[0]
        elif kind == CLOSE:
            return self.drop(conn, notify=False)
        self.pump(conn)

    # --- one connection to the learner's server -----------------------------------------------------------

    def open(self, cid):
        if cid in self.connections:
            return  # the backend never reuses an id; a repeat changes nothing
        sock = None
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            status = sock.connect_ex(("127.0.0.1", self.port))
        except OSError:
            status = errno.EMFILE  # out of sockets: refuse this connection, keep serving the others
        if status not in (0, errno.EINPROGRESS):
            if sock is not None:
                sock.close()
            return self.send(CLOSE, cid)
        conn = Connection(cid, sock, connected=status == 0)
        self.connections[cid] = conn
        self.watch(conn)

    def pump(self, conn, readable=False, writable=False):
        # Moves what can move without blocking; any socket error ends this connection (the client sees a reset).
        if not conn.connected:
            if not writable:
                return self.watch(conn)  # still connecting: what the backend sent waits in `outgoing`
            if conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                return self.drop(conn, notify=True)  # nothing listens on PORT (yet, or any more)
            conn.connected = True
        try:
            if conn.outgoing:
                sent = conn.sock.send(conn.outgoing)
                del conn.outgoing[:sent]
                self.send(ACK, conn.id, COUNT.pack(sent))
            if conn.backend_ended and not conn.outgoing and not conn.write_shut:
                conn.sock.shutdown(socket.SHUT_WR)
                conn.write_shut = True
            if readable and conn.credit > 0 and not conn.read_ended:
                data = conn.sock.recv(min(conn.credit, MAX_PAYLOAD))
                if data:
                    conn.credit -= len(data)
                    self.send(DATA, conn.id, data)
                else:
                    conn.read_ended = True
                    self.send(END, conn.id)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            return self.drop(conn, notify=True)
        if conn.read_ended and conn.write_shut:
            return self.drop(conn, notify=False)  # both directions are done; the backend ends the client's side
        self.watch(conn)

    def watch(self, conn):
        # Read only while the backend has room for more (credit); write only while something waits.
        events = 0
        if not conn.connected or conn.outgoing:
            events |= selectors.EVENT_WRITE
        if conn.connected and conn.credit > 0 and not conn.read_ended:
            events |= selectors.EVENT_READ
        if events == conn.interest:
            return
        if conn.interest == 0:
            self.selector.register(conn.sock, events, conn)
        elif events == 0:
            self.selector.unregister(conn.sock)
        else:
            self.selector.modify(conn.sock, events, conn)
        conn.interest = events

    def drop(self, conn, notify):
        if conn.interest:
            self.selector.unregister(conn.sock)
        conn.sock.close()
        del self.connections[conn.id]
        if notify:
            self.send(CLOSE, conn.id)

    # --- the loop -------------------------------------------------------------------------------------------

    def run(self):
        self.channel.setblocking(False)
        self.selector.register(self.channel, selectors.EVENT_READ, None)
        self.channel_events = selectors.EVENT_READ
        while True:
            for key, events in self.selector.select():
                if key.data is None:
                    if events & selectors.EVENT_WRITE:
                        self.flush()
                    if events & selectors.EVENT_READ:
                        self.read_channel()
                elif self.connections.get(key.data.id) is key.data:
                    read, write = events & selectors.EVENT_READ, events & selectors.EVENT_WRITE
                    self.pump(key.data, readable=bool(read), writable=bool(write))


def start_relay(port):
    try:
        channel = socket.socket(fileno=RELAY_FD)
    except OSError as error:
        sys.stderr.write("The relay channel is missing (%s); this server cannot be reached\n" % error)
        return
    channel.set_inheritable(False)  # the learner's child processes do not get it

    def run():
        try:
            Relay(channel, port).run()
        except ChannelGone:
            pass
        except Exception:
            # Only learner code in this process can get us here (e.g. by closing our fd); say so, then end.
            sys.stderr.write("The relay stopped; this server can no longer be reached\n")
        finally:
            channel.close()

    threading.Thread(target=run, name="relay", daemon=True).start()
