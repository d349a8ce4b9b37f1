# Serves the two ends of an emulated module pair over the optical-module UART
# link: each end as a pty (for pyserial and a MicroPython process) and/or a
# TCP port on 127.0.0.1 (pyserial's socket:// URL). One I/O thread multiplexes
# every pty, listener and connection; every pty and connection has its own
# OpticalModuleEnd (its own framing state) on the pair side it serves.
# Like a UART, each TCP end takes one client at a time: while the vehicle's
# ECU holds an end, another local process cannot open it; and only clients
# of the user running the server (emulator.local_peer). Keys drawn here
# are bound to the UART ends (qkd_pair.UART_ENDS): the REST server's SAEs
# cannot fetch them.
import os
import selectors
import socket
import sys
import threading

from emulator.local_peer import same_user
from emulator.optical_module import OpticalModuleEnd, StreamTable

SIDES = ("A", "B")
_READ = 4096
_ORDER = {"listen": 1, "wake": 2}


class ModuleUartServer:
    def __init__(self, pair, use_pty=False, tcp_port=None, host="127.0.0.1", connect=None):
        if not use_pty and tcp_port is None and connect is None:
            raise ValueError("serve at least one of pty, TCP and an outgoing connection")
        self.pair = pair
        self.streams = StreamTable(pair)
        self.ends = {side: {} for side in SIDES}  # side -> {"pty": path, "tcp": url}
        self.tx_dropped = 0
        self.errors = 0
        self.refused = 0  # TCP clients refused: their end was held, or another user's
        self._sel = selectors.DefaultSelector()
        self._fds = []  # everything to close at stop
        self._wake_r, self._wake_w = os.pipe()
        self._stopping = False
        self._sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._clients = {side: 0 for side in SIDES}  # TCP clients per end (at most 1)
        self._thread = threading.Thread(target=self._run, name="module-uart", daemon=True)
        try:
            for i, side in enumerate(SIDES):
                if use_pty:
                    self._open_pty(side)
                if tcp_port is not None:
                    self._listen(side, host, tcp_port + i if tcp_port else 0)
            if connect is not None:
                self._dial("A", connect)
        except OSError:
            self.stop()
            raise

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        if self._stopping:
            return
        self._stopping = True
        os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for key in list(self._sel.get_map().values()):
            self._sel.unregister(key.fileobj)
        for f in self._fds:
            _close(f)
        _close(self._wake_r)
        _close(self._wake_w)
        self._sel.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def describe(self):
        lines = []
        for side in SIDES:
            for kind in ("pty", "tcp", "connected"):
                if kind in self.ends[side]:
                    lines.append("module end %s: %s" % (side, self.ends[side][kind]))
        return lines

    def _open_pty(self, side):
        import tty

        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line discipline: bytes pass unchanged
        os.set_blocking(master, False)
        # The slave stays open here too, so the master never reads EIO while
        # no client has the pty open.
        self._fds += [master, slave]
        self.ends[side]["pty"] = os.ttyname(slave)
        self._sel.register(master, selectors.EVENT_READ, ("pty", OpticalModuleEnd(self.pair, side, self.streams)))

    def _listen(self, side, host, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(2)
        s.setblocking(False)
        self._fds.append(s)
        self.ends[side]["tcp"] = "socket://%s:%d" % (host, s.getsockname()[1])
        self._sel.register(s, selectors.EVENT_READ, ("listen", side))

    def _dial(self, side, address):
        conn = socket.create_connection(address, timeout=5)
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._fds.append(conn)
        self._clients[side] += 1
        self.ends[side]["connected"] = "tcp://%s:%d" % address
        self._sel.register(conn, selectors.EVENT_READ, ("conn", (side, OpticalModuleEnd(self.pair, side, self.streams))))

    def _run(self):
        while not self._stopping:
            # Connections first (a client that just closed frees its end
            # before a new client's accept in the same round), the stop last.
            ready = sorted(self._sel.select(timeout=1.0), key=lambda kv: _ORDER.get(kv[0].data[0], 0))
            for key, _ in ready:
                kind, ctx = key.data
                if kind == "wake":
                    return
                try:
                    if kind == "listen":
                        self._accept(key.fileobj, ctx)
                    elif kind == "pty":
                        self._serve_pty(key.fileobj, ctx)
                    else:
                        self._serve_conn(key.fileobj, ctx)
                except Exception as e:  # a bug in one request must not stop the other end
                    self.errors += 1
                    print("module-uart: %s: %s" % (type(e).__name__, e), file=sys.stderr)

    def _accept(self, listener, side):
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        if self._clients[side] or not same_user(conn):
            self.refused += 1  # the end is held (one cable per UART), or another user's process
            conn.close()
            return
        self._clients[side] += 1
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._fds.append(conn)
        self._sel.register(conn, selectors.EVENT_READ, ("conn", (side, OpticalModuleEnd(self.pair, side, self.streams))))

    def _serve_pty(self, fd, end):
        try:
            data = os.read(fd, _READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        self._write(lambda b: os.write(fd, b), end.receive_data(data))

    def _serve_conn(self, conn, side_end):
        side, end = side_end
        try:
            data = conn.recv(_READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._sel.unregister(conn)
            self._fds.remove(conn)
            self._clients[side] -= 1
            conn.close()
            return
        self._write(conn.send, end.receive_data(data))

    def _write(self, send, data):
        # Like a UART with a full transmit FIFO: what the peer does not take
        # now is dropped (and counted), so a peer that never reads cannot
        # stall the other end.
        while data:
            try:
                n = send(data)
            except (BlockingIOError, InterruptedError, OSError):
                self.tx_dropped += len(data)
                return
            data = data[n:]


def _close(f):
    try:
        f.close() if hasattr(f, "close") else os.close(f)
    except OSError:
        pass
