# A TCP bus server on 127.0.0.1 that speaks socketcand raw mode, so that
# real MicroPython ECU processes (keyagent.unix.socketcand_client) and
# python-can's own `socketcand` interface join the emulated bus.
#
#   clock = Clock(); bus = CanBus(clock, random.Random(seed))
#   server = BusServer(bus, port=0)          # 0: pick a free port (server.port)
#   server.start()                           # a thread paces the clock to wall time
#   ... can.Bus(interface="socketcand", host="127.0.0.1", port=server.port, channel="can0")
#   server.stop()
#
# Each client is its own node on the bus: its `< send >` / `< fdsend >` frames
# contend in arbitration and cost wire time. Every frame on the bus goes to
# every client in raw mode as `< frame >` / `< fdframe >` with the virtual
# timestamp, except back to the client that sent it (like a SocketCAN raw
# socket without CAN_RAW_RECV_OWN_MSGS). Handshake as socketcand: the server
# says `< hi >`, the client `< open CHANNEL >` -> `< ok >`, `< rawmode >` ->
# `< ok >`. Frames for a client are held back (not dropped) until `settle_s`
# after its rawmode `< ok >`: python-can reads that `< ok >` with a single
# recv() and would choke on a frame arriving in the same TCP segment.
#
# All bus work happens on the thread that runs run_realtime()/poll(); code
# that drives in-process ECUs schedules itself on the same clock.
import selectors
import socket
import threading
import time

from emulator.bus import Frame
from keyagent.unix import socketcand as sc

_HELLO, _OPEN, _RAW = 0, 1, 2


class _Client:
    __slots__ = ("sock", "addr", "parser", "state", "node", "out", "held", "raw_from")

    def __init__(self, sock, addr, node):
        self.sock = sock
        self.addr = addr
        self.parser = sc.Parser()
        self.state = _HELLO
        self.node = node
        self.out = bytearray()
        self.held = bytearray()  # frames during the settle time after rawmode
        self.raw_from = None


class BusServer:
    def __init__(self, bus, host="127.0.0.1", port=0, channel=b"can0", settle_s=0.05,
                 max_clients=32, out_limit=1 << 20, client_name="tcp"):
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("the bus server listens on 127.0.0.1 only")
        self.bus = bus
        self.channel = channel if isinstance(channel, bytes) else channel.encode()
        self.settle_s = settle_s
        self.max_clients = max_clients
        self.out_limit = out_limit
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(8)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, selectors.EVENT_READ, None)
        self.clients = []
        self.client_name = client_name  # a client's bus node is "<client_name>:<host>:<port>"
        self.node = bus.attach("bus-server", self._on_frame)
        self._leaving = []  # nodes of gone clients, detached once their frames are out
        self.rejected = 0
        self.dropped_clients = 0
        self._stop = threading.Event()
        self._thread = None

    # -- bus -> clients --------------------------------------------------
    def _on_frame(self, frame, is_rx):
        if not self.clients:
            return
        ts = frame.timestamp
        secs, usecs = ts // 1_000_000_000, (ts // 1000) % 1_000_000
        flags = sc.FLAG_BRS if frame.brs else 0
        line = sc.fmt_frame(frame.can_id, frame.ext, secs, usecs, frame.data, len(frame.data),
                            frame.fd, flags)
        for c in self.clients:
            if c.state == _RAW and c.node is not frame.sender:
                if c.raw_from is None:
                    c.out += line
                else:
                    c.held += line

    # -- clients -> bus --------------------------------------------------
    def _accept(self):
        try:
            sock, addr = self.listener.accept()
        except BlockingIOError:
            return
        if len(self.clients) >= self.max_clients:
            sock.close()
            self.dropped_clients += 1
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        node = self.bus.attach("%s:%s:%d" % ((self.client_name,) + addr))
        client = _Client(sock, addr, node)
        client.out += sc.fmt_simple(b"hi")
        self.clients.append(client)
        self.sel.register(sock, selectors.EVENT_READ, client)

    def _read(self, c):
        try:
            chunk = c.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(c)
            return
        view = memoryview(chunk)
        off = 0
        for _ in range(len(chunk) + 1):  # bounded: each round takes >= 1 byte or ends
            off += c.parser.feed(view[off:])
            self._handle_events(c)
            if off >= len(chunk) or c.sock is None:
                break

    def _handle_events(self, c):
        p = c.parser
        while True:
            ev = p.next()
            if ev == sc.EV_NONE:
                return
            if ev == sc.EV_REJECT:
                self.rejected += 1
                c.out += sc.fmt_error(b"syntax")
            elif ev == sc.EV_OPEN:
                if c.state == _HELLO and p.text == self.channel:
                    c.state = _OPEN
                    c.out += sc.fmt_simple(b"ok")
                else:
                    c.out += sc.fmt_error(b"could not open bus")
            elif ev == sc.EV_MODE and c.state != _HELLO:
                if p.text == b"rawmode":
                    c.state = _RAW
                    c.raw_from = time.monotonic() + self.settle_s
                    c.out += sc.fmt_simple(b"ok")
                else:
                    c.out += sc.fmt_error(b"only rawmode is supported")
            elif ev == sc.EV_ECHO:
                c.out += sc.fmt_simple(b"echo")
            elif ev == sc.EV_SEND and c.state != _HELLO:
                frame = Frame(p.can_id, bytes(p.data[: p.length]), p.ext, p.fd,
                              bool(p.fd and p.flags & sc.FLAG_BRS), c.node)
                try:
                    self.bus.queue(frame)
                except ValueError:
                    c.out += sc.fmt_error(b"invalid frame")
            else:
                self.rejected += 1
                c.out += sc.fmt_error(b"unexpected command")

    def _flush(self):
        now = time.monotonic()
        for c in list(self.clients):
            if c.raw_from is not None and now >= c.raw_from:
                c.raw_from = None
                c.out += c.held
                c.held = bytearray()
            if not c.out and not c.held:
                continue
            if len(c.out) + len(c.held) > self.out_limit:  # a client that does not read
                self._drop(c)
                continue
            if not c.out:
                continue
            try:
                n = c.sock.send(c.out)
                del c.out[:n]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self._drop(c)

    def _drop(self, c):
        if c in self.clients:
            self.clients.remove(c)
            self.sel.unregister(c.sock)
            c.sock.close()
            c.sock = None
            # What it sent before it went still goes onto the bus, like the
            # frames a process wrote to a CAN socket before exiting.
            self._leaving.append(c.node)

    def _detach_gone(self, force=False):
        for node in list(self._leaving):
            if force or not self.bus.pending(node):
                self._leaving.remove(node)
                self.bus.detach(node)

    # -- loop --------------------------------------------------------------
    def poll(self, timeout_s=0.0):
        """Accept, read and write once (waits up to timeout_s for input)."""
        for key, _ in self.sel.select(timeout_s):
            if key.data is None:
                self._accept()
            else:
                self._read(key.data)
        self._flush()
        if self._leaving:
            self._detach_gone()

    def run_realtime(self, duration_s=None, speed=1.0, max_wait_s=0.002):
        """Run the bus's clock paced to the wall clock (speed x real time)
        until stop() or duration_s of wall time."""
        clock = self.bus.clock
        wall0 = time.monotonic()
        v0 = clock.now
        while not self._stop.is_set():
            elapsed = time.monotonic() - wall0
            if duration_s is not None and elapsed >= duration_s:
                break
            clock.run_until(v0 + int(elapsed * speed * 1e9))
            self._flush()
            self.poll(max_wait_s)

    def start(self, speed=1.0):
        """Run run_realtime() in a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_realtime, kwargs={"speed": speed},
                                        name="bus-server", daemon=True)
        self._thread.start()

    def stop(self, timeout_s=5.0):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self.close()

    def close(self):
        for c in list(self.clients):
            self._drop(c)
        self._detach_gone(force=True)
        if self.listener is not None:
            self.sel.unregister(self.listener)
            self.listener.close()
            self.listener = None
