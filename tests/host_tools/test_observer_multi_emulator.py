# The observer on a vehicle under multi-counter freshness on every PDU
# (scenarios/multi-counter.toml: the gateway is the FV master, sync every
# 200 ms, every ECU reset once, the gateway's reset a new trip, rekeys on
# CAN FD, replay, spoof and tamper attacks, an eavesdropper). Recorded to
# BLF with the run's keys exported as `emulate --export` does: `trace
# analyze` verifies every authentic frame (the observer never resets, so
# the ECUs' reset windows do not apply to it) and rejects every attack
# frame; an observer joining mid-run recovers at the next sync; a live
# `monitor` on the bus server agrees.
import json
import os

import pytest

from emulator import report, scenario
from emulator.clock import S
from emulator.vehicle import Vehicle
from host_tools.cli import main
from host_tools.observer_inputs import Keys, load_config
from host_tools.secoc_observer import Observer
from live_monitor import monitor_live
from keyagent.rekey.messages import epoch_key

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIO = os.path.join(ROOT, "scenarios", "multi-counter.toml")
SYNC_ID = 0x6F1  # can_dbc/vehicle.dbc: SecOC_FvSyncId


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("multi")
    v = Vehicle(scenario.load(SCENARIO), inline_only=True)
    v.record_trace()
    summary = v.run(None)
    trace = str(d / "run.blf")
    report.write_trace(v.trace, trace)
    v.export(str(d / "run"))
    return v, summary, trace, str(d / "run")


def _expected(v, secoc_ids):
    # Per SecOC CAN ID: (authentic frames, attack frames) on the wire.
    out = dict((i, [0, 0]) for i in secoc_ids)
    for ts, can_id, data, fd, sender in v.trace:
        if can_id in out:
            out[can_id][sender.startswith("attacker")] += 1
    return out


def test_trace_analyze_verifies_every_authentic_multi_counter_frame(run, capsys):
    v, summary, trace, export = run
    argv = ["trace", "analyze", trace, "--config", os.path.join(export, "GATEWAY.json"),
            "--keys", os.path.join(export, "keys.json"), "--json", "-"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    result = json.loads(out)
    secoc = dict((m["id"], m["verdicts"]) for m in result["messages"] if m["secoc"])
    counts = _expected(v, secoc)
    assert summary["ecu_resets"] == 6 and summary["attacks_accepted"] == 0
    assert counts[SYNC_ID][0] > 60 and secoc[SYNC_ID] == {"ok": counts[SYNC_ID][0]}
    rejected = 0
    for can_id, verdicts in secoc.items():
        authentic, attacks = counts[can_id]
        assert verdicts.get("ok", 0) == authentic, (hex(can_id), verdicts)
        bad = dict((k, n) for k, n in verdicts.items() if k != "ok")
        assert sum(bad.values()) == attacks and set(bad) <= {"mac_mismatch", "stale_freshness"}
        rejected += attacks
    assert rejected == summary["attacks_injected"] > 300
    assert secoc[0xB0]["stale_freshness"] > 0  # replays within a reset cycle
    assert sum(n for n, _ in counts.values()) > 5000
    # every rekey followed; the first sync, and the gateway's new trip after its reset
    events = result["events"]
    assert [e["event"] for e in events].count("switch") == result["epoch"]["current"] == summary["epoch"]
    trips = [(e["detail"], e["epoch"]) for e in events if e["event"] == "fv_trip"]
    assert [t[0] for t in trips] == ["trip 1, reset 0, first sync seen", "trip 2, reset 0"]
    for key in v.issued_keys.values():
        assert key.hex() not in out


def test_observer_joining_mid_run_recovers_at_the_next_sync(run):
    # Started at 5.05 s with what a live export's keys.json holds (the QKD
    # keys and the K_epoch of the two newest epochs): the multi-counter
    # frames before the next sync have no counters, as a rebooted
    # receiver's; from that sync on every authentic frame verifies.
    v, summary, trace, export = run
    start = int(5.05 * S)
    newest = sorted(v.epoch_key_ids.items())[:2]  # epochs 1 and 2: 2 is current at 5.05 s
    keys = Keys(v.issued_keys, dict((e, epoch_key(v.issued_keys[k], e)) for e, k in newest))
    config = load_config(os.path.join(export, "GATEWAY.json"))
    pdus = set(p.can_id for p in config[0])
    obs = Observer(config, keys)
    frames = [f for f in v.trace if f[0] >= start]
    first_sync = next(f[0] for f in frames if f[1] == SYNC_ID)
    got = {"before": {}, "after": {}}
    for ts, can_id, data, fd, sender in frames:
        verdict = obs.on_frame(ts / S, can_id, data)
        if can_id in pdus and not sender.startswith("attacker"):
            when = got["before" if ts < first_sync else "after"]
            when[verdict] = when.get(verdict, 0) + 1
    assert got["before"] and set(got["before"]) == {"freshness_unavailable"}
    assert list(got["after"]) == ["ok"] and got["after"]["ok"] > 3000
    assert obs.messages[(SYNC_ID, False)].verdicts == {"ok": sum(1 for f in frames if f[1] == SYNC_ID)}
    assert obs.epochs.current == summary["epoch"]


def test_live_monitor_on_a_multi_counter_vehicle(tmp_path, capsys):
    # In real time on the bus server: 3.5 s, rekeys every 1.5 s, the ABS
    # reset at 2.5 s, the replay attack from 2 s, the spoof from 3 s. The monitor, attached
    # before the clock starts, with the key file the run keeps up to date.
    from emulator.bus_server import BusServer

    sc = scenario.load(SCENARIO, ["duration_s=3.5", "bus_load=0.1", "rekey.period_ms=1500"])
    v = Vehicle(sc, inline_only=True)
    export = str(tmp_path / "live")
    v.export(export, live=True)
    v.record_trace()
    server = BusServer(v.bus, port=0)
    argv = ["--port", str(server.port), "--config", os.path.join(export, "GATEWAY.json"),
            "--keys", os.path.join(export, "keys.json"), "--duration", "6", "--refresh", "0"]
    live = monitor_live(server, argv, str(tmp_path / "live.json"), 3.5)
    capsys.readouterr()
    secoc = dict((m["id"], m["verdicts"]) for m in live["messages"] if m["secoc"])
    counts = _expected(v, secoc)
    summary = v.summary()
    assert summary["ecu_resets"] == 1 and summary["attacks_injected"] == 40
    assert secoc[SYNC_ID] == {"ok": counts[SYNC_ID][0]} and counts[SYNC_ID][0] >= 15
    for can_id, verdicts in secoc.items():
        authentic, attacks = counts[can_id]
        assert verdicts.get("ok", 0) == authentic and sum(verdicts.values()) == authentic + attacks
    assert sum(counts[i][1] for i in secoc) == 40
    assert [e["event"] for e in live["events"]].count("switch") == summary["epoch"] == 3
