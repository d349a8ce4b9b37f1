# The optical-module link over an OS stream, for the MicroPython unix port
# and CPython: a pty (e.g. one end of `qkd-secoc module serve --pty`) or a
# TCP connection (`--uart-tcp`). Same port interface as hal.module_uart:
# read_into, write, wait.
import select
import socket
import sys

# CPython's socket.recv_into and raw file readinto return what has arrived;
# MicroPython's blocking readinto waits until the buffer is full, so there
# bytes are taken one at a time while poll() says more are waiting.
_PARTIAL_READS = sys.implementation.name != "micropython"


class StreamPort:
    def __init__(self, stream):
        # stream: a connected socket, or a pty opened with open_pty().
        self.stream = stream
        self._recv_into = getattr(stream, "recv_into", None) or stream.readinto
        self._send = getattr(stream, "sendall", None) or stream.write
        self._one = bytearray(1)
        self._poll = select.poll()
        self._poll.register(stream, select.POLLIN)

    def read_into(self, buf):
        # Called after wait() said bytes are waiting; 0 bytes then means the
        # far end went away.
        if _PARTIAL_READS:
            n = self._recv_into(buf)
            if not n:
                raise OSError("module link closed")
            return n
        one = self._one
        n = 0
        while n < len(buf) and (n == 0 or self._poll.poll(0)):
            if not self.stream.readinto(one):
                raise OSError("module link closed")
            buf[n] = one[0]
            n += 1
        return n

    def write(self, data):
        self._send(data)

    def wait(self, timeout_ms):
        return bool(self._poll.poll(timeout_ms))

    def close(self):
        self.stream.close()


def open_pty(path):
    # Raw, unbuffered, so a read returns what has arrived.
    try:
        return open(path, "r+b", buffering=0)
    except TypeError:  # MicroPython's open() has no buffering argument
        return open(path, "r+b")


def connect_tcp(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1])
    nodelay = getattr(socket, "TCP_NODELAY", None)
    if nodelay is not None:
        s.setsockopt(socket.IPPROTO_TCP, nodelay, 1)
    return s


def open_port(where):
    # "socket://host:port" or a device/pty path -> a StreamPort.
    if where.startswith("socket://"):
        host, _, port = where[9:].rpartition(":")
        return StreamPort(connect_tcp(host, int(port)))
    return StreamPort(open_pty(where))
