# Sweeps: dotted keys checked against the scenario schema before anything runs, a two-parameter sweep
# writes its table and plots, and a run that breaks a rule is listed with an
# `emulate` command that reproduces it alone.
import csv
import json
import os

import pytest

from emulator import rules
from emulator.clock import MS
from emulator.scenario import ROOT
from host_tools.cli import main

from keyagent.secoc.engine import REASONS


@pytest.fixture
def short():
    return os.path.join(ROOT, "tests", "emulator", "campaign_short.toml")


def test_bad_sweeps_are_one_line_before_anything_runs(short, tmp_path, capsys):
    out = str(tmp_path / "out")
    assert main(["campaign", short, "--seeds", "2", "--set", "rekey.nope=1,2", "--out", out]) == 2
    assert capsys.readouterr().err == "error: --set rekey.nope=1: no such scenario key\n"
    assert main(["campaign", short, "--seeds", "2", "--set", "qkd.km=10,x", "--out", out]) == 2
    assert capsys.readouterr().err == "error: --set qkd.km=x: x is not a number\n"
    assert main(["campaign", short, "--seeds", "2", "--set", "bus_load=0.5,2", "--out", out]) == 2
    assert capsys.readouterr().err == (
        "error: %s --set bus_load=2: bus_load: 2.0 is out of range: within 0..1\n" % short)
    assert main(["campaign", short, "--seeds", "2", "--set", "bus_load=0.5,", "--out", out]) == 2
    assert capsys.readouterr().err == "error: --set bus_load=0.5,: expected KEY=V1,V2,...\n"
    assert not os.path.exists(out)  # nothing ran, nothing was written
    assert main(["campaign", short, "--seeds", "2", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "error: --workers is for the local cluster" in capsys.readouterr().err


def test_a_sweep_over_two_parameters_writes_its_table_and_plots(short, tmp_path, capsys):
    code = main(["campaign", short, "--seeds", "1", "--seed-start", "5", "--workers", "2",
                 "--set", "rekey.period_ms=500,1000", "--set", "bus_load=0.2,0.5", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted((r["rekey.period_ms"], r["bus_load"], r["seed"]) for r in rows) == sorted(
        (p, b, s) for p in ("500", "1000") for b in ("0.2", "0.5") for s in ("5",))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["swept"] == ["rekey.period_ms", "bus_load"]
    assert [c["params"] for c in summary["combinations"]] == [
        {"rekey.period_ms": p, "bus_load": b} for p in ("500", "1000") for b in ("0.2", "0.5")]
    for c in summary["combinations"]:
        assert "%s rekey.period_ms=%s bus_load=%s: 1 runs, 0 failed" % (
            c["scenario"], c["params"]["rekey.period_ms"], c["params"]["bus_load"]) in out
    # Faster rekeys complete more of them: the sweep measured something.
    done = dict((c["params"]["rekey.period_ms"], c["figures"]["rekeys_completed"]["max"])
                for c in summary["combinations"])
    assert done["500"] > done["1000"]
    for name in ("plot_rekey_period_ms.png", "plot_bus_load.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_broken_rule_is_caught_and_its_command_reproduces_it(short, tmp_path, capsys):
    # A fifth of the frames lost and the ABS reset only at the end: a slave
    # that misses a rekey message rejects authentic frames outside any fault
    # window (loss opens none), in some of these seeds.
    assert main(["campaign", short, "--seeds", "4", "--seed-start", "3", "--workers", "2", "--set", "fault.0.rate=0.2",
                 "--set", "fault.1.at_s=2.9", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    failing = json.loads((tmp_path / "summary.json").read_text())["failing_runs"]
    assert failing and "failing runs (each command reproduces one alone):" in out
    first = failing[0]
    assert first["reasons"].startswith("authentic rejections outside fault windows: ")
    assert first["command"] == "qkd-secoc emulate %s --inline --seed %d --set fault.0.rate=0.2 " \
                               "--set fault.1.at_s=2.9" % (short, first["seed"])
    assert "  %s\n      %s" % (first["command"], first["reasons"]) in out
    assert main(first["command"].split()[1:] + ["--quiet"]) == 0
    assert "rule broken: %s\n" % first["reasons"] in capsys.readouterr().out


def test_rejections_inside_a_fault_window_are_excused_only_for_that_ecu():
    s = {"rekey": {"period_ms": 1000, "grace_ms": 200, "retry_ms": 100},
         "fault": [{"kind": "loss", "rate": 0.1}, {"kind": "reset", "ecu": "ABS", "at_s": 1.0},
                   {"kind": "deafen", "ecu": "EPS", "at_s": 2.0, "duration_s": 0.5}],
         "eavesdrop": [{"at_s": 5.0, "duration_s": 1.0}]}
    assert rules.fault_windows(s) == [(1000 * MS, 3200 * MS, "ABS"), (2000 * MS, 2700 * MS, "EPS"),
                                      (5000 * MS, 8200 * MS, None)]
    summary = {"attacks_accepted": 0, "off_epoch_ms": {"ABS": 2100, "EPS": 800, "max": 2100}}
    assert rules.failures(s, summary, [(int(1.5e9), "ABS", 1), (int(5.5e9), "BCM", 2)]) == []
    broken = rules.failures(s, dict(summary, attacks_accepted=1, off_epoch_ms={"EPS": 800, "BCM": 3300}),
                            [(int(1.5e9), "EPS", 1), (int(4e9), "ABS", 2)])
    assert broken == ["attacks accepted: 1",
                      "authentic rejections outside fault windows: 2 (first at 1.500 s on EPS: %s)"
                      % REASONS[1],
                      "BCM off the master's epoch for 3300 ms (bound 3200 ms)"]
