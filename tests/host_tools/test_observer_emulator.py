# The observer against the real thing: a short virtual-vehicle run (the
# lead's agents, QKD module pair, rekeys every 2 s, a replay attack) recorded
# to BLF, the QKD keys the master drew written as a key file, and
# `qkd-secoc trace analyze` with the gateway's configuration. Every frame an
# ECU sent verifies, the replays are rejected with the same reasons the
# receiving ECUs gave, and every rekey is followed.
import json
import os

import cantools

from emulator import report, scenario
from emulator.vehicle import Vehicle
from host_tools.cli import main
from live_monitor import monitor_live

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VEHICLE_DBC = os.path.join(ROOT, "can_dbc", "vehicle.dbc")

SCENARIO = """
name = "observer"
seed = 3
duration_s = 7
dbc = "%s"
bus_load = 0.0
[rekey]
period_ms = 2000
grace_ms = 500
[qkd]
km = 25
max_keys = 64
[[ecu]]
name = "GATEWAY"
role = "master"
module = true
[[ecu]]
name = "ABS"
module = true
[[ecu]]
name = "EPS"
module = false
[[ecu]]
name = "ADAS"
module = true
[[ecu]]
name = "BCM"
module = false
[[ecu]]
name = "PCM"
module = false
[[attack]]
kind = "replay"
target = "BrakePedal"
at_s = 3
duration_s = 1
rate_hz = 20
"""


def test_trace_analyze_agrees_with_the_emulated_ecus(tmp_path, capsys):
    path = tmp_path / "observer.toml"
    path.write_text(SCENARIO % VEHICLE_DBC)
    vehicle = Vehicle(scenario.load(str(path)), inline_only=True)
    drawn = {}
    take = vehicle.pair.take_new_keys

    def recording_take(side, count, size_bits=None):
        keys = take(side, count, size_bits)
        for key_id, key in keys:
            drawn[bytes(key_id).hex()] = bytes(key).hex()
        return keys

    vehicle.pair.take_new_keys = recording_take
    vehicle.record_trace()
    summary = vehicle.run(None)
    trace = str(tmp_path / "run.blf")
    report.write_trace(vehicle.trace, trace)
    files = {"keys": {"qkd_keys": drawn}, "gateway": vehicle.configs[0]}
    for name, doc in files.items():
        (tmp_path / (name + ".json")).write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["trace", "analyze", trace, "--config", str(tmp_path / "gateway.json"),
                 "--keys", str(tmp_path / "keys.json"), "--json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    secoc = {m["name"]: m["verdicts"] for m in result["messages"] if m["secoc"]}
    assert summary["attacks_injected"] == 20 and summary["rekeys_completed"] == 4
    # every frame an ECU sent verifies; only the replayed BrakePedal frames fail
    assert sum(v.get("ok", 0) for v in secoc.values()) == summary["frames_sent"]
    rejected = {k: n for k, n in secoc["BrakePedal"].items() if k != "ok"}
    assert sum(rejected.values()) == 20
    assert all(set(v) == {"ok"} for name, v in secoc.items() if name != "BrakePedal")
    # with the reasons each receiving ECU gave
    db = cantools.database.load_file(VEHICLE_DBC)
    receivers = set()
    for sig in db.get_message_by_name("BrakePedal").signals:
        receivers |= set(sig.receivers)
    by_reason = summary["attacks"][0]["rejected_by_reason"]
    assert {k: n * len(receivers) for k, n in rejected.items()} == by_reason
    kinds = [e["event"] for e in result["events"]]
    assert kinds.count("switch") == 4 and result["epoch"]["current"] == summary["epoch"] == 4
    assert kinds.count("grace_end") == 3
    # and the emulator's key-management frames decode with can_dbc/keymgmt.dbc
    import can

    km = cantools.database.load_file(os.path.join(ROOT, "can_dbc", "keymgmt.dbc"), strict=True)
    pci, types = {}, {}
    for msg in can.LogReader(trace):
        if msg.arbitration_id == 0x6F0 or 0x700 < msg.arbitration_id < 0x780:
            got = km.decode_message(msg.arbitration_id, bytes(msg.data))
            if msg.arbitration_id == 0x6F0:
                assert got["Activate_Type"] == "ACTIVATE"
                continue
            pci[str(got["PCI_Type"])] = pci.get(str(got["PCI_Type"]), 0) + 1
            if got["PCI_Type"] == "FirstFrame":
                types[str(got["FF_MsgType"])] = types.get(str(got["FF_MsgType"]), 0) + 1
    assert set(pci) == {"FirstFrame", "ConsecutiveFrame", "FlowControl"}
    assert pci["FirstFrame"] == pci["FlowControl"]  # one FC per FF: block size 0
    assert set(types) == {"JOIN", "ANNOUNCE", "ACK", "DELIVER", "DELIVERED"}
    assert types["ANNOUNCE"] == kinds.count("announce") and types["DELIVER"] == kinds.count("deliver")


def test_live_monitor_on_the_running_vehicle(tmp_path, capsys):
    # The vehicle in real time on a socketcand bus server, `qkd-secoc monitor`
    # attached through python-can before the clock starts, and a key file
    # the run extends (atomically) each time the master draws a QKD key: the
    # monitor sees every frame, follows every rekey as it happens, and gives
    # the receiving ECUs' verdicts.
    from emulator.bus_server import BusServer

    scenario_text = (SCENARIO % VEHICLE_DBC).replace("duration_s = 7", "duration_s = 3.5").replace(
        "period_ms = 2000", "period_ms = 1500").replace("at_s = 3\nduration_s = 1", "at_s = 2\nduration_s = 0.5")
    path = tmp_path / "live.toml"
    path.write_text(scenario_text)
    vehicle = Vehicle(scenario.load(str(path)), inline_only=True)
    keys_path = tmp_path / "keys.json"
    drawn = {}

    def write_keys():
        tmp = str(keys_path) + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"qkd_keys": drawn}, f)
        os.replace(tmp, keys_path)

    take = vehicle.pair.take_new_keys

    def recording_take(side, count, size_bits=None):
        keys = take(side, count, size_bits)
        for key_id, key in keys:
            drawn[bytes(key_id).hex()] = bytes(key).hex()
        write_keys()
        return keys

    vehicle.pair.take_new_keys = recording_take
    write_keys()
    (tmp_path / "gateway.json").write_text(json.dumps(vehicle.configs[0]))
    vehicle.record_trace()
    server = BusServer(vehicle.bus, port=0)
    argv = ["--interface", "socketcand", "--port", str(server.port), "--config", str(tmp_path / "gateway.json"),
            "--keys", str(keys_path), "--duration", "6", "--refresh", "0"]
    live = monitor_live(server, argv, str(tmp_path / "live.json"), 3.5)
    capsys.readouterr()
    on_bus = {}
    for frame in vehicle.trace:
        on_bus[frame[1]] = on_bus.get(frame[1], 0) + 1
    assert {m["id"]: m["frames"] for m in live["messages"]} == on_bus
    summary = vehicle.summary()
    secoc = {m["name"]: m["verdicts"] for m in live["messages"] if m["secoc"]}
    secoc_ids = {m["id"] for m in live["messages"] if m["secoc"]}
    # Every authentic SecOC frame that reached the wire verified; a frame
    # still queued when the clock stopped never did (at most one per sender).
    authentic = sum(1 for f in vehicle.trace if f[1] in secoc_ids and not f[4].startswith("attacker"))
    assert sum(v.get("ok", 0) for v in secoc.values()) == authentic
    assert 0 <= summary["frames_sent"] - authentic <= len(vehicle.ecus)
    rejected = {k: n for k, n in secoc["BrakePedal"].items() if k != "ok"}
    assert sum(rejected.values()) == summary["attacks_injected"] == 10
    assert [e["event"] for e in live["events"]].count("switch") == summary["epoch"] == 3
