# A full update of a real MicroPython ECU process (firmware/unix_ecu.py
# --ota) over the bus server: `qkd-secoc ota push` (udsoncan over can-isotp
# on the project's python-can interface qkd_socketcand) sends an image of the
# agent compiled for the unix port's architecture; the ECUReset ends the
# process (exit 3, a board would reset); started again it runs the agent
# from slot a, rejoins the in-process master's rekey protocol, verifies its
# frames and confirms the slot; `ota info` reads it all back.
import json
import random
import subprocess
import threading
import time

from emulator.bus import CanBus
from emulator.bus_server import BusServer
from emulator.clock import MS, Clock
from host_tools import cli
from keyagent.agent import KeyAgent
from keyagent.node import Node
from keyagent.ota import image as I
from keyagent.storage import MemoryStorage
from mpy_interpreter import ROOT, micropython
from vehicle_sim import FakeModule, KeyPool, config

KEY_ID = "fleet-key-9"
QKD_KEY = bytes(range(100, 132))


class Master:
    # The rekey master in process, on the bus server's clock (its thread).
    def __init__(self, bus, cfg):
        self.clock = bus.clock
        self.inbox = []
        self.port = bus.attach("master", lambda f, rx: rx and self.inbox.append((f.can_id, f.data)))
        self.agent = KeyAgent(cfg, MemoryStorage(), FakeModule(KeyPool(), 0))
        self.node = Node(self.agent, cfg, self, lambda: self.clock.now // MS, out=lambda line: None)
        self.clock.call_later(0, self._step)

    def send(self, can_id, data, fd):
        self.port.send(can_id, data, fd=fd)

    def recv(self, timeout_ms):
        return self.inbox.pop(0) if self.inbox else None

    def _step(self):
        if self.node._last_tick is None:
            self.node.start()
        self.node.step()
        self.clock.call_later(MS, self._step)


def test_a_micropython_ecu_process_takes_an_update_over_the_bus_server(tmp_path, capsys):
    configs = config(direct=0, gateway=1, timing={"rekey_period_ms": 3600000})
    slave = configs[1]
    slave["ota_keys"] = {KEY_ID: I.update_key(QKD_KEY, 1, KEY_ID).hex()}
    vehicle = tmp_path / "vehicle"
    vehicle.mkdir()
    (vehicle / "S1.json").write_text(json.dumps(slave))
    key_file = tmp_path / "ota_key.json"
    key_file.write_text(json.dumps({"key_id": KEY_ID, "key": QKD_KEY.hex()}))
    flash = tmp_path / "flash"
    flash.mkdir()
    image = tmp_path / "agent.ota"
    assert cli.main(["ota", "build", "--board", "unix", "--mpy-arch", "x64", "--version", "1.1.0", "--node", "1",
                     "--key-file", str(key_file), "--out", str(image)]) == 0
    bus = CanBus(Clock(), random.Random(4))
    server = BusServer(bus, port=0)
    Master(bus, configs[0])
    server.start()
    # Generous answer timeouts: on a loaded machine the process may be slow.
    bus_args = ["--configs", str(vehicle), "--interface", "qkd_socketcand", "--port", str(server.port),
                "--timeout", "10"]
    procs = []

    def ecu(seconds):
        proc = subprocess.Popen([micropython(), "firmware/unix_ecu.py", "--config", str(vehicle / "S1.json"),
                                 "--bus", "127.0.0.1:%d" % server.port, "--ota", str(flash),
                                 "--duration", str(seconds), "--status", "0.5"],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        return proc

    try:
        first = ecu(120)
        started = threading.Event()

        def wait_for_status():
            for line in first.stdout:
                if line.startswith("status "):  # on the bus and running
                    started.set()
                    return

        threading.Thread(target=wait_for_status, daemon=True).start()
        assert started.wait(30)
        capsys.readouterr()
        code = cli.main(["ota", "push", str(image), "--ecu", "S1"] + bus_args)
        assert code == 0, capsys.readouterr()
        out1, err1 = first.communicate(timeout=60)
        assert first.returncode == 3 and out1.rstrip().endswith("keyagent: reset"), out1 + err1
        second = ecu(8)
        state = flash / "ota" / "state.json"
        for _ in range(1000):  # until the new agent has confirmed its slot
            if json.loads(state.read_text())["trial"] is None:
                break
            time.sleep(0.02)
        capsys.readouterr()
        assert cli.main(["ota", "info", "--ecu", "S1"] + bus_args) == 0
        info = capsys.readouterr().out
        out2, err2 = second.communicate(timeout=60)
        assert second.returncode == 0, out2 + err2
    finally:
        for proc in procs:  # a failed step leaves no process behind
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        server.stop()
    lines = out2.splitlines()
    assert lines[0] == "keyagent: slot a version 1.1.0"
    last = dict(f.split("=", 1) for f in [l for l in lines if l.startswith("status node=1 ")][-1].split()[1:])
    assert last["epoch"] == "1" and int(last["verified"]) > 0  # rejoined, and its frames verify
    record = json.loads((flash / "ota" / "state.json").read_text())
    assert record == {"active": "a", "floor": 1001000, "trial": None, "boots": 0}  # confirmed
    assert info == "S1 (node 1): version 1.1.0, slot a, epoch 1, version floor 1001000, boot qkd-secoc boot 1\n"
    assert all(p.endswith(".mpy") or p.endswith("image.hdr") for p in
               [str(q) for q in (flash / "ota" / "a").rglob("*") if q.is_file()])


def test_ota_needs_an_existing_folder(tmp_path):
    import sys

    cfg = tmp_path / "s1.json"
    cfg.write_text(json.dumps(config(direct=0, gateway=1)[1]))
    for exe in (micropython(), sys.executable):
        proc = subprocess.run([exe, "firmware/unix_ecu.py", "--config", str(cfg), "--bus", "127.0.0.1:1",
                               "--ota", str(tmp_path / "none")], cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert (proc.returncode, proc.stdout, proc.stderr) == (
            2, "", "error: --ota must name an existing folder, not '%s' (see --help)\n" % (tmp_path / "none"))
