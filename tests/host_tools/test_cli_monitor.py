# `qkd-secoc monitor`: live on python-can's virtual interface (a second bus
# in the test sends the recorded scenario with its own timestamps) and on the
# emulator's bus server through python-can's socketcand interface. The
# verdicts are the trace analyzer's; the --log trace reads back the same.
import json
import os
import random
import threading
import time

import can
import pytest

import secoc_trace_builder as B
from test_trace_analyze import DBCS, EXPECTED, VERDICTS
from emulator.bus import CanBus
from emulator.bus_server import BusServer, _RAW
from emulator.clock import Clock
from host_tools.cli import main


@pytest.fixture
def inputs(tmp_path):
    cfg, keys = tmp_path / "gateway.json", tmp_path / "keys.json"
    cfg.write_text(json.dumps(B.CONFIG))
    keys.write_text(json.dumps(B.KEYS))
    return {"config": str(cfg), "keys": str(keys), "dir": tmp_path}


def _argv(inputs, *bus):
    argv = ["monitor"] + list(bus) + ["--config", inputs["config"], "--keys", inputs["keys"]]
    for d in DBCS:
        argv += ["--dbc", d]
    return argv


def _run_in_thread(argv):
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("rc", main(argv)), daemon=True)
    t.start()
    return t, result


def test_monitor_on_virtual_bus_exact_output_and_log(inputs, capsys):
    channel = "qkd-monitor-test-%d" % os.getpid()
    log = str(inputs["dir"] / "live.blf")
    out_json = str(inputs["dir"] / "live.json")
    frames = B.build()
    t, result = _run_in_thread(_argv(inputs, "--interface", "virtual", "--channel", channel) + [
        "--refresh", "0", "--once", str(len(frames)), "--duration", "30", "--events", "20",
        "--width", "1000", "--log", log, "--json", out_json])
    from can.interfaces import virtual

    for _ in range(500):  # bounded: until the monitor's bus has joined the channel
        if len(virtual.channels.get(channel, ())) == 1:
            break
        time.sleep(0.01)
    sender = can.Bus(interface="virtual", channel=channel, preserve_timestamps=True)
    try:
        for ts, can_id, data in frames:
            sender.send(can.Message(timestamp=ts, arbitration_id=can_id, is_extended_id=False, data=data))
        t.join(30)
    finally:
        sender.shutdown()
    assert not t.is_alive() and result["rc"] == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out == "-- final: %d frames\n" % len(B.build()) + EXPECTED
    with open(out_json) as f:
        assert {m["name"]: m["verdicts"] for m in json.load(f)["messages"]} == VERDICTS
    # the recorded BLF gives the same analysis offline
    argv = ["trace", "analyze", log, "--config", inputs["config"], "--keys", inputs["keys"]]
    for d in DBCS:
        argv += ["--dbc", d]
    assert main(argv) == 0
    assert capsys.readouterr().out == EXPECTED


def test_monitor_duration_with_no_traffic(inputs, capsys):
    argv = _argv(inputs, "--interface", "virtual", "--channel", "qkd-idle-%d" % os.getpid()) + [
        "--duration", "0.2", "--refresh", "0.1", "--log", str(inputs["dir"] / "idle.asc")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    tables = out.split("-- ")[1:]
    assert len(tables) >= 2 and tables[-1].startswith("final: 0 frames\n")
    assert tables[-1] == "final: 0 frames\n%s\nepoch: none (no keys)\nrekey events: 0\n" % (
        EXPECTED.splitlines()[0])


def test_monitor_on_emulator_bus_server_via_socketcand(inputs, capsys):
    clock = Clock()
    bus = CanBus(clock, random.Random(1))
    server = BusServer(bus, port=0)
    ecu = bus.attach("recording")
    frames = B.build()
    t0 = frames[0][0]

    def start_when_monitor_joined():
        # Runs on the clock thread; sends the scenario once the monitor is in raw mode.
        if not any(c.state == _RAW for c in server.clients):
            clock.call_later(5_000_000, start_when_monitor_joined)
            return
        for ts, can_id, data in frames:
            clock.call_later(int(round((ts - t0) * 1e9)), ecu.send, can_id, data)

    clock.call_at(0, start_when_monitor_joined)
    server.start()
    out_json = str(inputs["dir"] / "sc.json")
    try:
        t, result = _run_in_thread(_argv(inputs, "--interface", "socketcand", "--host", "127.0.0.1",
                                         "--port", str(server.port), "--channel", "can0") + [
            "--refresh", "0", "--once", str(len(frames)), "--duration", "30", "--json", out_json])
        t.join(40)
    finally:
        server.stop()
    assert not t.is_alive() and result["rc"] == 0
    out, err = capsys.readouterr()
    assert err == "" and out.startswith("-- final: %d frames\n" % len(B.build()))
    with open(out_json) as f:
        report = json.load(f)
    assert {m["name"]: m["verdicts"] for m in report["messages"]} == VERDICTS
    assert [e["event"] for e in report["events"]].count("switch") == 2
    assert report["epoch"]["current"] == 2


def test_port_that_does_not_open_is_one_error_line(inputs, capsys):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    argv = _argv(inputs, "--interface", "socketcand", "--port", str(port)) + ["--duration", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot open socketcand bus 127.0.0.1:%d: " % port) and err.count("\n") == 1
    argv = _argv(inputs, "--interface", "no-such-interface") + ["--duration", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot open no-such-interface bus can0: ") and err.count("\n") == 1


def test_bus_options_reach_python_can(inputs, capsys, monkeypatch):
    # What python-can is asked for; the CanError it raises is a one-line error.
    asked = []

    def refusing_bus(**kwargs):
        asked.append(kwargs)
        raise can.CanInitializationError("no such adapter")

    monkeypatch.setattr(can, "Bus", refusing_bus)
    argv = _argv(inputs, "--interface", "pcan", "--channel", "PCAN_USBBUS1", "--bitrate", "500000",
                 "--fd", "--data-bitrate", "2000000") + ["--duration", "1"]
    assert main(argv) == 2
    assert asked == [{"interface": "pcan", "channel": "PCAN_USBBUS1", "bitrate": 500000, "fd": True,
                      "data_bitrate": 2000000}]
    assert capsys.readouterr().err == "error: cannot open pcan bus PCAN_USBBUS1: no such adapter\n"
