# Scenario files are checked completely before a run: every key of the
# schema table gets a wrong type and an out-of-range value, and each gives
# exactly one `FILE: [table] key: ...` problem; names are checked against the
# DBC and the [[ecu]] list; `--set` overrides use the schema's types.
import copy

import pytest

from emulator import scenario
from emulator.scenario import TABLES, ScenarioError
from host_tools.cli import main

SOURCE = "bench.toml"


def base():
    raw = scenario.read(scenario.DEFAULT)
    raw["dbc"] = "can_dbc/vehicle.dbc"
    raw["freshness"] = {"profile1_fv_bits": 32}
    raw["qkd"].update(loss_db_per_km=0.2, uart_baud=115200)
    raw["fault"] += [{"kind": "bit_errors", "rate": 0.001}, {"kind": "reset", "ecu": "ABS", "at_s": 2},
                     {"kind": "unplug", "ecu": "EPS", "at_s": 3, "duration_s": 1}]
    raw["ota"] = [{"ecu": "ABS", "at_s": 1.0, "version": "1.1.0", "attack": "replay"}]
    raw["attack"].append({"kind": "fc_abuse", "ecu": "ABS", "at_s": 1.0, "duration_s": 1.0, "rate_hz": 5.0})
    return raw


def slots():
    """(table, key, the dict in a raw scenario that holds it, where) for
    every key of the schema."""
    raw = base()
    for t in TABLES.values():
        for name, key in t.keys.items():
            if not t.name:
                yield raw, raw, key, ""
            elif not t.array:
                yield raw, raw[t.name], key, "[%s] " % t.name
            else:
                for i, entry in enumerate(raw[t.name]):
                    kind = entry.get("kind")
                    if t.kinds is None or name == "kind" or name in t.kinds[kind] or \
                            name not in set(k for ks in t.kinds.values() for k in ks):
                        yield raw, entry, key, "[%s #%d] " % (t.name, i + 1)
                        break
                else:
                    raise AssertionError("no entry takes %s.%s" % (t.name, name))


def bad_values(key):
    wrong_type = {int: "x", float: "thirty", bool: "yes"}.get(key.type, 5)
    if key.type in (int, float):
        out_of_range = (key.lo if key.above else key.lo - 1) if key.lo is not None else None
        return [wrong_type, out_of_range, key.hi + 1]
    if key.type is bool:
        return [wrong_type, 1]
    if key.name == "kind" or key.choices:
        return [wrong_type, "bogus"]
    if key.type is str:
        return [wrong_type, "", "x" * (key.hi + 1)]
    if key.type == "path":
        return [wrong_type, "no/such.dbc"]
    return [wrong_type, "NoSuchName"]


def test_the_test_scenario_is_valid():
    s = scenario.validate(base(), SOURCE)
    assert s["rekey"]["retry_ms"] == 200  # defaults filled in
    assert s["attack"][3] == {"kind": "flood", "can_id": 0, "at_s": 12.0, "duration_s": 1.0, "rate_hz": 500.0}


@pytest.mark.parametrize("table,key", [(t.name, k) for t in TABLES.values() for k in t.keys])
def test_every_key_rejects_a_wrong_type_and_an_out_of_range_value(table, key):
    checked = 0
    for raw, holder, spec, where in slots():
        if (spec.name, where.split(" #")[0].strip("[] ")) != (key, table):
            continue
        for value in bad_values(spec):
            if value is None:
                continue
            bad = copy.deepcopy(raw)
            # the same holder inside the copy
            target = bad if holder is raw else _same(bad, raw, holder)
            target[key] = value
            with pytest.raises(ScenarioError) as e:
                scenario.validate(bad, SOURCE)
            problems = e.value.problems
            assert len(problems) == 1, problems
            prefix = "%s: %s%s: " % (SOURCE, where, key)
            if key == "kind":
                prefix = "%s: %skind: " % (SOURCE, where)
            assert problems[0].startswith(prefix), (problems[0], prefix)
            checked += 1
    assert checked >= 2


def _same(bad, raw, holder):
    for name, value in raw.items():
        if value is holder:
            return bad[name]
        if isinstance(value, list) and any(v is holder for v in value):
            return bad[name][[id(v) for v in value].index(id(holder))]
    raise AssertionError("holder not found")


def test_the_issue_examples_and_cross_checks_are_all_reported_at_once():
    raw = base()
    raw["duration_s"] = "thirty"
    raw["attack"][0]["target"] = "BrakePedals"
    raw["attack"][1]["at_s"] = -1
    raw["fault"][0]["rate"] = 2.5
    raw["rekey"]["period_ms"] = 0
    raw["ecu"][1]["role"] = "master"
    raw["ecu"][2]["name"] = "ABS"
    raw["fault"][2]["ecu"] = "TCU"
    raw["fault"][3]["ecu"] = "BCM"  # no module to unplug
    raw["attack"].append({"kind": "spoof"})
    raw["colour"] = "red"
    with pytest.raises(ScenarioError) as e:
        scenario.validate(raw, SOURCE)
    assert sorted(e.value.problems) == sorted([
        "bench.toml: colour: unknown key (known: name, seed, duration_s, dbc, bitrate, data_bitrate, "
        "bus_load, rekey, freshness, qkd, ecu, attack, fault, eavesdrop, ota)",
        'bench.toml: duration_s: must be a number, not the string "thirty"',
        "bench.toml: [rekey] period_ms: 0 is out of range: within 100..86400000",
        "bench.toml: [attack #2] at_s: -1 is out of range: within 0..3600",
        "bench.toml: [attack #6] target: missing (the SecOC message attacked)",
        "bench.toml: [fault #1] rate: 2.5 is out of range: within 0..1",
        "bench.toml: [attack #1] target: BrakePedals is not a SecOC message of the DBC (AdasCommand, "
        "BrakePedal, SteeringAngle, TorqueRequest, VehicleStatus, WheelSpeeds)",
        "bench.toml: [fault #3] ecu: TCU is not a [[ecu]] name (ABS, ADAS, BCM, GATEWAY, PCM)",
        'bench.toml: [[ecu]] role: exactly one [[ecu]] must have role = "master"',
        "bench.toml: [ecu #3] name: ABS is already the name of [ecu #2]",
        "bench.toml: [fault #4] ecu: BCM has no QKD module to unplug (module = false)",
    ])


def test_overrides_use_the_schema_types():
    raw = base()
    out = scenario.apply_override(raw, "attack.1.rate_hz=50")
    assert out["attack"][1]["rate_hz"] == 50.0 and raw["attack"][1]["rate_hz"] == 20  # a copy
    out = scenario.apply_override(out, "ecu.ADAS.process=inline")
    out = scenario.apply_override(out, "rekey.period_ms=0x800")
    out = scenario.apply_override(out, "ecu.ABS.module=false")
    s = scenario.validate(scenario.apply_override(out, "seed=9"), SOURCE)
    assert (s["seed"], s["rekey"]["period_ms"], s["ecu"][3]["process"], s["ecu"][1]["module"]) == \
        (9, 2048, "inline", False)
    for text, message in (("rekey.period_ms=soon", "--set rekey.period_ms=soon: soon is not an integer"),
                          ("rekey.colour=1", "--set rekey.colour=1: no such scenario key"),
                          ("attack.9.at_s=1", "--set attack.9.at_s=1: there are only 5 entries"),
                          ("ecu.TCU.module=true", "--set ecu.TCU.module=true: no entry named TCU"),
                          ("ecu.ABS.module=maybe", "--set ecu.ABS.module=maybe: maybe is not true or false"),
                          ("duration_s", "--set duration_s: expected dotted.key=value")):
        with pytest.raises(ScenarioError) as e:
            scenario.apply_override(raw, text)
        assert str(e.value) == message
    with pytest.raises(ScenarioError) as e:  # the range is validate()'s
        scenario.validate(scenario.apply_override(raw, "qkd.max_keys=0"), SOURCE)
    assert e.value.problems == ["bench.toml: [qkd] max_keys: 0 is out of range: within 1..100000"]


def test_emulate_prints_one_error_line_per_problem_before_running(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('duration_s = "thirty"\ndbc = "can_dbc/vehicle.dbc"\n[rekey]\nperiod_ms = 0\n'
                   '[[ecu]]\nname = "GATEWAY"\nrole = "master"\n'
                   '[[attack]]\nkind = "spoof"\ntarget = "Brake"\nat_s = -1\n')
    assert main(["emulate", str(bad), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        'error: %s: duration_s: must be a number, not the string "thirty"' % bad,
        "error: %s: [rekey] period_ms: 0 is out of range: within 100..86400000" % bad,
        "error: %s: [attack #1] at_s: -1 is out of range: within 0..3600" % bad,
        "error: %s: [attack #1] target: Brake is not a SecOC message of the DBC (AdasCommand, BrakePedal, "
        "SteeringAngle, TorqueRequest, VehicleStatus, WheelSpeeds)" % bad,
    ]
    assert main(["emulate", "scenarios/default.toml", "--duration", "0", "--quiet"]) == 2
    assert capsys.readouterr().err == ("error: scenarios/default.toml: duration_s: 0.0 is out of range: "
                                       "above 0 and at most 3600\n")
    assert main(["emulate", "scenarios/default.toml", "--set", "fault.0.rate=lots"]) == 2
    assert capsys.readouterr().err == "error: --set fault.0.rate=lots: lots is not a number\n"
