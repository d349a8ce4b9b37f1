# The installed package registers the python-can interface "qkd_socketcand"
# (entry point can.interface), so python-can's own tools find it by name:
# `python -m can.logger -i qkd_socketcand` records the emulated bus's CAN FD
# frames, which python-can 4.6's own socketcand interface cannot parse.
import importlib.metadata
import os
import random
import signal
import subprocess
import sys
import time

import can

from emulator.bus import CanBus
from emulator.bus_server import BusServer
from emulator.clock import MS, Clock


def test_the_interface_is_registered_by_the_installed_package():
    points = [e for e in importlib.metadata.entry_points(group="can.interface") if e.name == "qkd_socketcand"]
    assert [e.value for e in points] == ["host_tools.socketcand_bus:SocketcandFdBus"]
    assert points[0].dist.name == "qkd-secoc"
    assert points[0].load().__name__ == "SocketcandFdBus"


def test_can_logger_records_fd_frames_through_it(tmp_path):
    clock = Clock()
    bus = CanBus(clock, random.Random(3))
    ecu = bus.attach("ecu")

    def periodic():
        ecu.send(0x0A0, bytes(range(12)), fd=True)
        clock.call_later(10 * MS, periodic)

    clock.call_at(0, periodic)
    server = BusServer(bus, port=0)
    server.start()
    log = tmp_path / "fd.asc"
    logger = subprocess.Popen(
        [sys.executable, "-m", "can.logger", "-i", "qkd_socketcand", "-c", "can0", "-f", str(log),
         "--bus-kwargs", "host=127.0.0.1", "port=%d" % server.port],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        for _ in range(100):  # bounded: 10 s for the first frames to land in the file
            time.sleep(0.1)
            if log.exists() and log.stat().st_size > 600:
                break
    finally:
        os.killpg(logger.pid, signal.SIGINT)
        out, _ = logger.communicate(timeout=10)
        server.stop()
    assert "Invalid Frame" not in out and "Traceback" not in out, out
    frames = [m for m in can.ASCReader(str(log)) if m.arbitration_id == 0x0A0]
    assert frames and all(m.is_fd and bytes(m.data) == bytes(range(12)) for m in frames), out
