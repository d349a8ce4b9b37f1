# scenarios/bus-attacker.toml: an attacker with no keys going for the rekey
# protocol (ISO-TP hog, Flow Control abuse, replayed rekey messages,
# replayed JOINs) and a slave deafened across a rekey. Issue 10's numbers:
# no authentic frame rejected except while an ECU is deaf or within two
# retry periods after, every ECU back on the master's epoch within two
# retry periods of hearing the bus again, and nothing spent (QKD key, SHE
# counter, epoch) because of attacker frames.
import copy
import json
import os
import subprocess
import sys

import pytest

from emulator import scenario
from emulator.clock import MS, S
from emulator.vehicle import Vehicle

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIO = os.path.join(ROOT, "scenarios", "bus-attacker.toml")
KINDS = ("isotp_hog", "fc_abuse", "rekey_replay", "join_replay")


def _run(spec):
    v = Vehicle(spec, inline_only=True)
    summary = v.run()
    return v, summary


@pytest.fixture(scope="module")
def spec():
    return scenario.load(SCENARIO)


@pytest.fixture(scope="module")
def attacked(spec):
    return _run(spec)


@pytest.fixture(scope="module")
def baseline(spec):
    # The same vehicle, the same deaf slave, no attacker.
    quiet = copy.deepcopy(spec)
    quiet["attack"] = []
    return _run(quiet)


def _deaf_windows(spec):
    retry = spec["rekey"]["retry_ms"] * MS
    out = []
    for f in spec["fault"]:
        if f["kind"] == "deafen":
            start = int(f["at_s"] * S)
            end = start + int(f["duration_s"] * S)
            out.append((f["ecu"], start, end, end + 2 * retry))
    return out


def test_scenario_has_every_attack_and_a_deaf_slave(spec, attacked):
    v, summary = attacked
    assert sorted(a["kind"] for a in summary["attacks"]) == sorted(KINDS)
    assert [f["kind"] for f in spec["fault"]] == ["deafen"]
    for a in summary["attacks"]:
        assert a["injected"] > 0, a["kind"]
    # The deaf slave really missed a switch: the master went ahead without it.
    ecu, start, end, _ = _deaf_windows(spec)[0]
    active = [t for t, kind, epoch in v.master.events if kind == "epoch_active" and start < t * MS < end]
    assert active, "no rekey while %s was deaf" % ecu


def test_no_attacker_frame_accepted(attacked):
    _, summary = attacked
    assert summary["attacks_accepted"] == 0
    for a in summary["attacks"]:
        assert a["accepted"] == 0, a


def test_authentic_frames_rejected_only_around_the_deaf_time(spec, attacked):
    v, _ = attacked
    windows = _deaf_windows(spec)
    outside = [(t / MS, name) for t, name in v.stats.rejected_at
               if not any(start <= t <= after for _, start, _, after in windows)]
    assert outside == []


def test_every_ecu_back_on_the_masters_epoch_within_two_retry_periods(spec, attacked):
    v, summary = attacked
    retry = spec["rekey"]["retry_ms"] * MS
    windows = _deaf_windows(spec)
    for name, intervals in v.off_epoch.all_intervals(v.clock.now).items():
        for start, end in intervals:
            deaf = [after for ecu, s, e, after in windows if ecu == name and s <= end and start <= e]
            if deaf:
                assert end <= deaf[0], (name, start / MS, end / MS)
            else:
                assert end - start <= 2 * retry, (name, start / MS, end / MS)
    assert summary["off_epoch_max_ms"] == max(summary["off_epoch_ms"].values())


def test_the_attacks_reached_their_targets(attacked, baseline):
    # Not vacuous: the gateway answered forged First Frames with flow
    # control and replayed JOINs with DELIVERs (old nonce), which BCM then
    # refused; the replayed rekey messages were refused as such.
    v, summary = attacked
    b, _ = baseline
    assert v.master.bus_node.sent > b.master.bus_node.sent + 240
    assert v.ecus["BCM"].agent.rejected.get("rekey_stale", 0) > b.ecus["BCM"].agent.rejected.get("rekey_stale", 0)
    replay = [a for a in summary["attacks"] if a["kind"] == "rekey_replay"][0]
    assert sum(replay["rejected_by_reason"].values()) > 0


def test_attacker_frames_spend_no_key_counter_or_epoch(attacked, baseline):
    v, summary = attacked
    b, base = baseline
    assert summary["epoch"] == base["epoch"]
    assert len(v.issued_keys) == len(b.issued_keys)  # QKD keys the master drew
    for name, ecu in v.ecus.items():
        if ecu is v.master:
            continue
        assert ecu.storage.get("she_counter", 0) == b.ecus[name].storage.get("she_counter", 0), name
        assert ecu.storage.get("epoch", 0) == b.ecus[name].storage.get("epoch", 0), name
    assert v.master.storage.get("epoch") == b.master.storage.get("epoch")


def test_emulate_command_reports_the_same_numbers(tmp_path, attacked):
    _, summary = attacked
    out = tmp_path / "summary.json"
    subprocess.run([sys.executable, "-m", "host_tools.cli", "emulate", SCENARIO, "--inline",
                    "--json", str(out)], cwd=ROOT, check=True, capture_output=True, timeout=300)
    cli = json.loads(out.read_text())
    for key in ("authentic_rejected", "attacks_injected", "attacks_accepted", "epoch",
                "off_epoch_ms", "off_epoch_max_ms"):
        assert cli[key] == summary[key], key
    assert cli["attacks_accepted"] == 0
    assert set(cli["off_epoch_ms"]) == {"ABS", "EPS", "ADAS", "BCM"}


def test_scenario_rejects_an_attack_on_an_unknown_ecu(spec):
    bad = copy.deepcopy(spec)
    bad["attack"] = [{"kind": "join_replay", "ecu": "NOPE"}]
    raw = dict((k, bad[k]) for k in ("name", "ecu", "attack"))
    with pytest.raises(scenario.ScenarioError, match="NOPE"):
        scenario.validate(raw)
