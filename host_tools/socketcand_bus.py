# A python-can bus for socketcand servers with CAN FD (`< fdframe >`), such
# as the emulator's bus server: python-can 4.6's own `socketcand` interface
# reads classic frames only and drops every FD frame with a warning. It is
# the project's socketcand client (keyagent.unix.socketcand_client, the sans-I/O
# parser keyagent.unix.socketcand) behind python-can's BusABC, so python-can's
# writers, notifiers and tools work with it. Registered as the python-can
# interface "qkd_socketcand":
#
#   bus = can.Bus(interface="qkd_socketcand", host="127.0.0.1", port=29536, channel="can0")
import socket
import time

import can

from keyagent.unix import socketcand as sc
from keyagent.unix.socketcand_client import SocketcandClient

_FOREVER_MS = 3_600_000


class SocketcandFdBus(can.BusABC):
    def __init__(self, channel="can0", host="127.0.0.1", port=29536, timeout_ms=2000, **kwargs):
        self.channel_info = "socketcand %s:%d %s" % (host, port, channel)
        self._client = SocketcandClient(host, int(port), str(channel).encode(), timeout_ms)
        try:
            self._client.connect()
        except OSError as e:
            self._client.close()
            raise can.CanInitializationError("socketcand %s:%s: %s" % (host, port, e)) from None
        self.channel = channel
        super().__init__(channel=channel, **kwargs)

    def _recv_internal(self, timeout):
        ms = _FOREVER_MS if timeout is None else max(0, int(timeout * 1000))
        try:
            ev = self._client.recv(ms)
        except OSError as e:
            raise can.CanOperationError("socketcand: %s" % e) from None
        if ev != sc.EV_FRAME:
            return None, False
        p = self._client.parser
        msg = can.Message(timestamp=p.secs + p.usecs / 1e6, arbitration_id=p.can_id, is_extended_id=p.ext,
                          is_fd=p.fd, bitrate_switch=bool(p.flags & sc.FLAG_BRS),
                          error_state_indicator=bool(p.flags & sc.FLAG_ESI),
                          data=bytes(p.data[:p.length]), channel=self.channel, is_rx=True)
        return msg, False

    def send(self, msg, timeout=None):
        flags = (sc.FLAG_BRS if msg.bitrate_switch else 0) | (sc.FLAG_ESI if msg.error_state_indicator else 0)
        try:
            self._client.send(msg.arbitration_id, bytes(msg.data), msg.is_extended_id, msg.is_fd, flags)
        except OSError as e:
            raise can.CanOperationError("socketcand: %s" % e) from None

    def shutdown(self):
        # A clean end: what we sent first, then EOF, then wait for the
        # server to close. Closing with frames still unread would reset the
        # connection, and the server could lose our last frames with it.
        sock = self._client.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_WR)
                sock.settimeout(0.2)
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline and sock.recv(65536):
                    pass
            except OSError:
                pass
        self._client.close()
        super().shutdown()
