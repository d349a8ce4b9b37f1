# The virtual vehicle against issue 4's promises: counts, not timings.
import filecmp

import pytest

from emulator import scenario
from emulator.clock import S
from emulator.report import write_trace
from emulator.vehicle import Vehicle

ECUS = [
    {"name": "GATEWAY", "role": "master", "module": True},
    {"name": "ABS", "module": True},
    {"name": "EPS", "module": True},
    {"name": "ADAS", "module": False},
    {"name": "BCM", "module": False},
    {"name": "PCM", "module": False},
]


def make(**kw):
    s = {"name": "test", "seed": 11, "duration_s": 5.0, "dbc": "can_dbc/vehicle.dbc",
         "bus_load": 0.3, "ecu": ECUS, "rekey": {"period_ms": 1000, "grace_ms": 300},
         "qkd": {"max_keys": 32}}
    s.update(kw)
    return Vehicle(scenario.check(s))


def test_100_rekeys_at_60_percent_load_with_1_percent_loss():
    v = make(duration_s=45.0, bus_load=0.6, rekey={"period_ms": 250, "grace_ms": 150},
             fault=[{"kind": "loss", "rate": 0.01}])
    s = v.run()
    assert s["rekeys_completed"] >= 100
    assert s["bus_load"] > 0.55
    assert s["lost_deliveries"] > 500  # the loss really happened
    # Lost frames are never seen, so never rejected; everything that arrived verified.
    assert s["authentic_rejected"] == 0, s["authentic_rejected_by_reason"]
    assert s["frames_verified"] > 50000


def test_every_attack_frame_is_rejected_for_the_right_reason():
    attacks = [{"kind": "replay", "target": "BrakePedal", "at_s": 1.2, "duration_s": 0.5, "rate_hz": 40},
               {"kind": "spoof", "target": "TorqueRequest", "at_s": 1.3, "duration_s": 1.0, "rate_hz": 40},
               {"kind": "tamper", "target": "SteeringAngle", "at_s": 1.4, "duration_s": 1.0, "rate_hz": 40},
               {"kind": "flood", "can_id": 0, "at_s": 1.5, "duration_s": 0.2, "rate_hz": 1000}]
    v = make(duration_s=3.0, rekey={"period_ms": 10000}, attack=attacks)
    s = v.run()
    assert s["attacks_accepted"] == 0 and s["authentic_rejected"] == 0
    by_kind = dict((a["kind"], a) for a in s["attacks"])
    for kind, reason in (("replay", "stale_freshness"), ("spoof", "mac_mismatch"), ("tamper", "mac_mismatch")):
        a = by_kind[kind]
        receivers = len(v.message(a["target"]).db_message.receivers)
        assert a["injected"] >= 20
        assert a["rejected_by_reason"] == {reason: a["injected"] * receivers}, (kind, a)
    assert by_kind["flood"]["injected"] == 200 and by_kind["flood"]["rejected_by_reason"] == {}


@pytest.mark.parametrize("ecu", ["ABS", "ADAS", "GATEWAY"])
@pytest.mark.parametrize("offset_ms", [0, 3, 40, 250, 520, 900])
def test_an_ecu_reset_at_any_moment_verifies_again_within_two_rekey_periods(ecu, offset_ms):
    # Resets around the rekey at t = 2 s (announce, distribution, activation, grace).
    at = 2.0 + offset_ms / 1000.0
    v = make(duration_s=at + 2.5, fault=[{"kind": "reset", "ecu": ecu, "at_s": at}])
    v.run()
    e = v.ecus[ecu]
    assert e.resets == 1
    assert e.first_ok_ns is not None and e.first_ok_ns <= (at + 2.0) * S
    assert len(set(x.epoch for x in v.ecus.values())) == 1
    # Only the reset ECU lost frames: those that reached it before it had a
    # key again. A master that reset keeps no keys (never persisted), so the
    # few frames still in flight under the old epoch when its first new
    # epoch activates fail their MAC there too.
    for name, other in v.ecus.items():
        app = dict((k, n) for k, n in other.agent.rejected.items() if not k.startswith(("rekey", "she")))
        if name != ecu:
            assert app == {}, (name, app)
        elif ecu == "GATEWAY":
            assert set(app) <= {"no_key", "mac_mismatch"}
            assert app.get("mac_mismatch", 0) <= 2 * len(other.agent.pdus)
        else:
            assert set(app) <= {"no_key"}


def test_same_scenario_and_seed_give_byte_identical_traces(tmp_path):
    paths = []
    for run in range(2):
        v = make(duration_s=2.0, fault=[{"kind": "loss", "rate": 0.01}],
                 attack=[{"kind": "spoof", "target": "TorqueRequest", "at_s": 1.0, "rate_hz": 50}])
        v.record_trace()
        v.run()
        paths.append(str(tmp_path / ("run%d.blf" % run)))
        write_trace(v.trace, paths[-1])
    assert filecmp.cmp(paths[0], paths[1], shallow=False)
    v = make(duration_s=2.0, seed=12, fault=[{"kind": "loss", "rate": 0.01}])
    v.record_trace()
    v.run()
    write_trace(v.trace, str(tmp_path / "other.blf"))
    assert not filecmp.cmp(paths[0], str(tmp_path / "other.blf"), shallow=False)


def test_eavesdropper_alarm_keeps_the_key_and_the_bus_authenticated():
    v = make(duration_s=6.0, eavesdrop=[{"at_s": 1.5, "duration_s": 2.5, "fraction": 0.6}])
    qber = []
    unsent = []
    v.clock.call_at(int(2.5 * S), lambda: qber.append(v.pair.status()))
    for t in (1.5, 4.0):
        v.clock.call_at(int(t * S), lambda: unsent.append(v.stats.app_unsent))
    s = v.run()
    assert qber[0]["alarm"] and qber[0]["qber"] > 0.11
    kinds = [k for _, k, _ in v.master.events]
    assert "qkd_alarm" in kinds and "qkd_keys_again" in kinds
    # No rekey while the link is in alarm, none missed afterwards, and every
    # frame sent in the meantime was protected and verified.
    reached = dict((e, min(t.values())) for e, t in v.epoch_reached.items())
    assert not [e for e, t in reached.items() if 1.6 * S < t < 4.0 * S]
    assert s["authentic_rejected"] == 0 and unsent[0] == unsent[1]
    assert s["epoch"] >= 3


def test_unplugged_master_module_keeps_the_current_key():
    v = make(duration_s=5.0, fault=[{"kind": "unplug", "ecu": "GATEWAY", "at_s": 1.5, "duration_s": 2.0}])
    s = v.run()
    kinds = [k for _, k, _ in v.master.events]
    assert "qkd_key_unavailable" in kinds or "qkd_alarm" in kinds
    assert s["authentic_rejected"] == 0
    assert len(set(x.epoch for x in v.ecus.values())) == 1


def test_the_faults_scenario_rides_out_every_fault():
    # scenarios/faults.toml: loss, bit errors, three kinds of reset, an
    # unplugged module and an eavesdropper in one run.
    v = Vehicle(scenario.load("scenarios/faults.toml"))
    s = v.run()
    assert set(s["authentic_rejected_by_reason"]) <= {"no_key"}  # only while a reset ECU had none
    assert s["rekeys_completed"] >= 6 and s["ecu_resets"] == 3
    assert len(set(e.epoch for e in v.ecus.values())) == 1
    assert s["qber_max"] > 0.11 and s["lost_deliveries"] > 0


def test_export_writes_0600_files_over_old_files_and_symlinks(tmp_path):
    # Issue 10, finding 7: an existing keys.json kept its 0644 mode, and a
    # symlink named keys.json was followed.
    import os
    import stat

    v = make(duration_s=0.5)
    v.run()
    old = tmp_path / "keys.json"
    old.write_text("{}")
    os.chmod(old, 0o644)
    target = tmp_path / "elsewhere.txt"
    target.write_text("not yours")
    os.symlink(target, tmp_path / "GATEWAY.json")
    paths = v.export(str(tmp_path))
    for p in paths:
        st = os.lstat(p)
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, p
    assert target.read_text() == "not yours"
    assert "qkd_keys" in (tmp_path / "keys.json").read_text()
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
