# scenarios/multi-counter.toml: multi-counter freshness on every PDU, a reset
# of every ECU (the FV master's new trip included), attacks and an
# eavesdropper. Authentic frames are refused only inside the reset windows
# of docs/freshness.md, and no attack gets through.
import os

from emulator import scenario
from emulator.clock import S
from emulator.vehicle import Vehicle

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_multi_counter_vehicle_with_resets_and_attacks():
    sc = scenario.load(os.path.join(ROOT, "scenarios", "multi-counter.toml"))
    v = Vehicle(sc, inline_only=True)
    # docs/freshness.md, "Reset windows": a rebooted ECU refuses what it
    # receives until it holds the epoch key (JOIN, at most join_retry_ms
    # apart) and a sync has opened a reset cycle after the one it joined
    # in (at most 2 sync periods).
    period = sc["freshness"]["sync_period_ms"] / 1000.0
    window = 0.5 + 2 * period + 0.1
    resets = dict((f["ecu"], f["at_s"]) for f in sc["fault"] if f["kind"] == "reset")
    refused = []
    syncs = []
    attackers = [a.node for a in v.attackers]
    verdict = v.stats.verdict

    def record(ecu, frame, reason):
        if reason and frame.sender not in attackers:
            refused.append((v.clock.now / S, ecu.name, reason))
        verdict(ecu, frame, reason)

    v.stats.verdict = record
    sync_id = v.ecus["ABS"].agent.multi.can_id
    assert sync_id == 1777  # can_dbc/vehicle.dbc: SecOC_FvSyncId
    v.bus.monitors.append(lambda f: syncs.append(f.data) if f.can_id == sync_id else None)
    s = v.run()
    assert s["ecu_resets"] == 6 and s["rekeys_completed"] >= 3 and s["qkd_alarm_s"] > 0
    assert s["attacks_injected"] > 300 and s["attacks_accepted"] == 0
    assert s["frames_verified"] > 10000
    assert len(syncs) > 60 and all(len(d) == 8 for d in syncs)
    assert v.ecus["GATEWAY"].agent.multi.state.trip == 2  # the reset started a new trip
    for t, ecu, reason in refused:
        assert reason in (5, 6), (t, ecu, reason)  # no_key, freshness_unavailable
        assert resets[ecu] <= t <= resets[ecu] + window, (t, ecu, reason)
    assert s["authentic_rejected"] == len(refused)
    # Every reset of a receiving ECU showed up, so the check above is not empty.
    assert set(e for _, e, _ in refused) >= {"ABS", "EPS", "ADAS", "PCM", "GATEWAY"}


def test_bad_freshness_keys_are_one_line_errors():
    base = {"name": "x", "dbc": "can_dbc/vehicle.dbc", "ecu": [{"name": "GATEWAY", "role": "master"}]}
    for fresh, words in (({"mode": "triple"}, "[freshness] mode"),
                         ({"mode": "multi", "layout": "fv=trip:16"}, "[freshness] layout")):
        try:
            scenario.validate(dict(base, freshness=fresh))
        except scenario.ScenarioError as e:
            assert words in str(e) and "\n" not in str(e), e
        else:
            raise AssertionError("accepted %r" % fresh)
