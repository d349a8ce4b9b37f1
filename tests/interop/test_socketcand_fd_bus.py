# host_tools.socketcand_bus: the python-can interface "qkd_socketcand" (an
# entry point) on the emulator's bus server carries CAN FD frames both ways,
# with BRS and the virtual timestamps; python-can's own socketcand interface
# is classic-CAN only.
import random

import can
import pytest

from emulator.bus import CanBus
from emulator.bus_server import BusServer
from emulator.clock import MS, Clock


@pytest.fixture
def server():
    clock = Clock()
    bus = CanBus(clock, random.Random(2))
    seen = []
    bus.attach("recorder", lambda f, rx: seen.append((f.can_id, bytes(f.data), f.fd, f.brs, f.ext)))
    srv = BusServer(bus, port=0)
    srv.seen = seen
    yield srv
    srv.stop()


def _recv(bus, want, tries=200):
    for _ in range(tries):  # bounded: 200 x 50 ms
        msg = bus.recv(0.05)
        if msg is not None and want(msg):
            return msg
    return None


def test_fd_frames_both_ways_through_python_can(server):
    ecu = server.bus.attach("ecu")

    def periodic():
        ecu.send(0x0A0, bytes(range(12)), fd=True)
        ecu.send(0x1ABCDE, b"\x01\x02", ext=True)
        server.bus.clock.call_later(10 * MS, periodic)

    server.bus.clock.call_at(0, periodic)
    server.start()
    with can.Bus(interface="qkd_socketcand", host="127.0.0.1", port=server.port, channel="can0") as tool:
        fd = _recv(tool, lambda m: m.arbitration_id == 0x0A0)
        assert fd is not None and fd.is_fd and fd.bitrate_switch and bytes(fd.data) == bytes(range(12))
        assert not fd.is_extended_id and fd.timestamp < 60  # virtual seconds since the bus started
        ext = _recv(tool, lambda m: m.arbitration_id == 0x1ABCDE)
        assert ext is not None and ext.is_extended_id and not ext.is_fd and bytes(ext.data) == b"\x01\x02"
        tool.send(can.Message(arbitration_id=0x321, data=bytes(range(20)), is_fd=True, bitrate_switch=True,
                              is_extended_id=False))
        for _ in range(100):  # bounded: until the bus carried it
            if any(f[0] == 0x321 for f in server.seen):
                break
            _recv(tool, lambda m: False, tries=1)
        assert (0x321, bytes(range(20)), True, True, False) in server.seen


def test_server_that_does_not_answer_is_an_initialization_error():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)  # accepts, never says < hi >
    try:
        with pytest.raises(can.CanInitializationError):
            can.Bus(interface="qkd_socketcand", host="127.0.0.1", port=s.getsockname()[1], timeout_ms=200)
    finally:
        s.close()
