# The socketcand bus server: python-can's own socketcand interface and a real
# MicroPython unix-port process (keyagent.unix.socketcand_client) on the
# emulated bus, paced to the wall clock. 127.0.0.1 only, bounded waits.
import os
import random
import subprocess
import sys

import can
import pytest

from emulator.bus import CanBus
from emulator.bus_server import BusServer
from emulator.clock import MS, Clock
from keyagent.unix import socketcand as sc
from keyagent.unix.socketcand_client import SocketcandClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def server():
    clock = Clock()
    bus = CanBus(clock, random.Random(3))
    log = []
    bus.attach("recorder", lambda f, rx: log.append((f.can_id, bytes(f.data), f.fd, f.sender.name)))
    srv = BusServer(bus, port=0)
    srv.log = log
    yield srv
    srv.stop()


def recv_until(bus, want, timeout_s=5.0):
    # bounded: at most timeout_s / 0.05 receive calls of 50 ms
    for _ in range(int(timeout_s / 0.05)):
        msg = bus.recv(0.05)
        if msg is not None and want(msg):
            return msg
    return None


def test_python_can_socketcand_interface_sends_and_receives(server):
    ecu = server.bus.attach("ecu")

    def periodic():
        ecu.send(0x1A0, b"\x10\x20\x30")
        server.bus.clock.call_later(5 * MS, periodic)

    server.bus.clock.call_at(0, periodic)
    server.start()
    a = can.Bus(interface="socketcand", host="127.0.0.1", port=server.port, channel="can0")
    b = can.Bus(interface="socketcand", host="127.0.0.1", port=server.port, channel="can0")
    try:
        got = recv_until(a, lambda m: m.arbitration_id == 0x1A0)
        assert got is not None and bytes(got.data) == b"\x10\x20\x30" and not got.is_extended_id
        a.send(can.Message(arbitration_id=0x0123ABCD, is_extended_id=True, data=b"\x01\xff"))
        got = recv_until(b, lambda m: m.arbitration_id == 0x0123ABCD)
        assert got is not None and got.is_extended_id and bytes(got.data) == b"\x01\xff"
        # the sender does not get its own frame back
        assert recv_until(a, lambda m: m.arbitration_id == 0x0123ABCD, timeout_s=0.3) is None
    finally:
        a.shutdown()
        b.shutdown()
    assert (0x0123ABCD, b"\x01\xff", False) in [e[:3] for e in server.log]


def test_client_adapter_fd_and_rejections(server):
    server.start()
    c1 = SocketcandClient("127.0.0.1", server.port, b"can0", timeout_ms=3000)
    c2 = SocketcandClient("127.0.0.1", server.port, b"can0", timeout_ms=3000)
    c1.connect()
    c2.connect()
    try:
        c1.send(0x0A0, bytes(range(12)), fd=True, flags=sc.FLAG_BRS)
        c1.sock.sendall(b"garbage< bogus >")
        for _ in range(50):
            if c2.recv(100) == sc.EV_FRAME:
                break
        p = c2.parser
        assert (p.can_id, p.fd, p.flags, bytes(p.data[: p.length])) == (0xA0, True, 1, bytes(range(12)))
        # the server answers garbage with < error ... > and counts it
        for _ in range(50):
            if c1.recv(100) == sc.EV_ERROR:
                break
        assert server.rejected >= 1
    finally:
        c1.close()
        c2.close()


def test_wrong_channel_is_refused(server):
    server.start()
    c = SocketcandClient("127.0.0.1", server.port, b"vcan9", timeout_ms=2000)
    with pytest.raises(OSError):
        c.connect()
    c.close()


def micropython():
    exe = os.environ.get("MICROPYTHON") or os.path.join(os.path.dirname(sys.executable), "micropython")
    if not os.path.exists(exe):
        pytest.fail("no MicroPython interpreter: set MICROPYTHON")
    return exe


def test_micropython_process_exchanges_frames(server):
    server.start()
    tool = can.Bus(interface="socketcand", host="127.0.0.1", port=server.port, channel="can0")
    env = dict(os.environ, MICROPYPATH=os.path.join(ROOT, "firmware"))
    proc = subprocess.Popen([micropython(), os.path.join(ROOT, "tests", "emulator", "socketcand_ecu.py"),
                             str(server.port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        hello = recv_until(tool, lambda m: m.arbitration_id == 0x321, timeout_s=10)
        assert hello is not None and bytes(hello.data) == b"MPY-ECU"
        tool.send(can.Message(arbitration_id=0x322, is_extended_id=False, data=b"\x05\x06\x07"))
        reply = recv_until(tool, lambda m: m.arbitration_id == 0x323, timeout_s=10)
        out, err = proc.communicate(timeout=10)
        assert reply is not None and bytes(reply.data) == b"\x07\x06\x05", out + err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        tool.shutdown()
    assert proc.returncode == 0, out + err
    assert "done" in out
