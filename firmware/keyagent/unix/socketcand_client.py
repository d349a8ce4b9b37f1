# A socketcand raw-mode TCP client for the MicroPython unix port and CPython:
# the I/O half of keyagent.unix.socketcand. An ECU process uses it to join the
# emulator's bus server (emulator/bus_server.py) or a real socketcand.
#
#   c = SocketcandClient("127.0.0.1", port, b"can0")
#   c.connect()                      # < hi >, < open can0 >, < rawmode >
#   c.send(0x123, b"\x01\x02")        # < send 123 2 01 02 >
#   if c.recv(100) == EV_FRAME:       # wait up to 100 ms
#       p = c.parser; p.can_id, p.ext, p.fd, p.flags, p.data[:p.length]
import select
import socket

from keyagent.unix import socketcand as sc
from keyagent.hal.ticks import ticks_diff, ticks_ms


class SocketcandClient:
    """One TCP connection in raw mode. Local misuse and a dead or misbehaving
    server raise OSError; garbage inside the stream is counted by the parser."""

    def __init__(self, host="127.0.0.1", port=29536, channel=b"can0", timeout_ms=2000):
        self.host = host
        self.port = port
        self.channel = channel
        self.timeout_ms = timeout_ms
        self.parser = sc.Parser()
        self.sock = None
        self._poll = None

    def connect(self):
        addr = socket.getaddrinfo(self.host, self.port)[0][-1]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(self.timeout_ms / 1000)
        s.connect(addr)
        self.sock = s
        self._poll = select.poll()
        self._poll.register(s, select.POLLIN)
        self._expect(sc.EV_HI)
        self._write(sc.fmt_open(self.channel))
        self._expect(sc.EV_OK)
        self._write(sc.fmt_simple(b"rawmode"))
        self._expect(sc.EV_OK)

    def _write(self, data):
        self.sock.sendall(data)

    def _expect(self, kind):
        ev = self._next_event(self.timeout_ms)
        if ev != kind:
            raise OSError("socketcand handshake: expected event %d, got %d" % (kind, ev))

    def _next_event(self, timeout_ms):
        # Bounded: at most one read per poll, until the deadline.
        p = self.parser
        start = ticks_ms()
        while True:
            ev = p.next()
            while ev == sc.EV_REJECT:
                ev = p.next()
            if ev != sc.EV_NONE:
                return ev
            left = timeout_ms - ticks_diff(ticks_ms(), start)
            if left < 0:
                return sc.EV_NONE
            if not self._poll.poll(left):
                return sc.EV_NONE
            chunk = self.sock.recv(p.space())
            if not chunk:
                raise OSError("socketcand server closed the connection")
            p.feed(chunk)

    def send(self, can_id, data, ext=False, fd=False, flags=0):
        """Queue a frame on the bus (flags: keyagent.unix.socketcand.FLAG_BRS for CAN FD)."""
        self._write(sc.fmt_send(can_id, ext, data, len(data), fd, flags))

    def recv(self, timeout_ms=0):
        """Wait up to timeout_ms for the next element; returns its event kind
        (EV_FRAME: the frame is in self.parser) or EV_NONE on timeout."""
        return self._next_event(timeout_ms)

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
