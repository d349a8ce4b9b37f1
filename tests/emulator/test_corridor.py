# The corridor (emulator.corridor) of scenarios/corridor.toml: sessions form
# only where the vehicle stocked a key for that roadside unit and the relay
# had a path without alarm; keys are consumed once; the eavesdropper's
# window decides who gets rsu-4's keys; the run is reproducible; and bad
# corridor files say what is wrong.
import os

import pytest

from emulator import corridor, corridor_spec
from mpy_interpreter import ROOT

CORRIDOR = os.path.join(ROOT, "scenarios", "corridor.toml")


@pytest.fixture(scope="module")
def run():
    return corridor.run(corridor_spec.load(CORRIDOR))


def test_the_corridor_has_three_vehicles_four_rsus_and_sessions(run):
    r = run.report()
    assert len(r["vehicles"]) >= 3 and len(r["rsus"]) == 4
    assert r["sessions"]["made"] > 0 and r["sessions"]["messages"] == 2 * r["sessions"]["made"]
    # Every session made used one relayed key, fetched once by its RSU at its KME.
    assert run.net.counters["keys_fetched"] == r["sessions"]["made"]
    for name, v in r["vehicles"].items():
        assert v["consumed"] == v["stocked"] - v["left"] == v["sessions_made"]


def test_sessions_only_where_both_sides_hold_the_key_and_no_hop_is_in_alarm(run):
    stock_time = dict((v["name"], v["stock_s"]) for v in run.spec["vehicle"])
    for t, vehicle, rsu, km, outcome in run.sessions:
        stocked_in_alarm = rsu == "rsu-4" and stock_time[vehicle] < 150
        if outcome == "made":
            assert not stocked_in_alarm
        elif outcome == "alarm":
            assert stocked_in_alarm
        else:
            assert outcome == "no_key"  # the stock for this RSU ran out on the way
    refused = {v: x["stock_refused"] for v, x in run.report()["vehicles"].items()}
    assert refused == {"vehicle-1": {"rsu-4": "alarm"}, "vehicle-2": {"rsu-4": "alarm"}, "truck-3": {}}
    assert [s for s in run.sessions if s[2] == "rsu-4" and s[4] == "made"]  # the truck, after the window


def test_runs_are_reproducible(run):
    assert corridor.run(corridor_spec.load(CORRIDOR)).report() == run.report()


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("vehicle"), "at least one"),
    (lambda d: d["rsu"].append({"name": "rsu-9", "km": 1}), "not an SAE"),
    (lambda d: d["eavesdrop"][0].update(between=["depot", "node-4"]), "two KMEs of a link"),
    (lambda d: d["vehicle"][0].update(stock_s=100, depart_s=50), "stock_s <= depart_s"),
    (lambda d: d["stock"].update(per_rsu=-1), "stock.per_rsu"),
    (lambda d: d["network"]["link"][0].update(km="far"), "network: link"),
    (lambda d: d.update(bogus=1), "unknown corridor keys"),
])
def test_bad_corridors_say_what_is_wrong(change, message):
    import tomllib

    with open(CORRIDOR, "rb") as f:
        data = tomllib.load(f)
    change(data)
    with pytest.raises(corridor_spec.CorridorError, match=message):
        corridor_spec.check(data)
