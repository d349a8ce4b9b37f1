# `[[ota]]` in a scenario: an ECU's agent updated over UDS (udsoncan as the
# tester, virtual time) while the vehicle runs; it reboots into the new
# slot, rejoins the rekey protocol, and the bus stays authenticated. The
# update attacks are refused with their NRC and counted in the summary.
import pytest

from emulator import report, scenario
from emulator.vehicle import Vehicle

ECUS = [
    {"name": "GATEWAY", "role": "master", "module": True},
    {"name": "ABS", "module": True},
    {"name": "EPS", "module": False},
    {"name": "BCM", "module": False},
]


def make(**kw):
    s = {"name": "ota", "seed": 5, "duration_s": 30.0, "dbc": "can_dbc/vehicle.dbc", "bus_load": 0.0,
         "ecu": ECUS, "rekey": {"period_ms": 2000, "grace_ms": 300}, "qkd": {"max_keys": 32}}
    s.update(kw)
    return Vehicle(scenario.validate(s))


def test_an_update_while_the_vehicle_runs_and_the_attacks_on_it():
    v = make(ota=[{"ecu": "BCM", "at_s": 0.5, "attack": "wrong_key"},
                  {"ecu": "BCM", "at_s": 0.5, "attack": "foreign", "version": "1.1.0"},
                  {"ecu": "BCM", "at_s": 0.5, "attack": "replay"},
                  {"ecu": "BCM", "at_s": 0.5, "attack": "tampered", "version": "1.1.0"},
                  {"ecu": "EPS", "at_s": 1.0, "version": "1.1.0"}])
    s = v.run()
    got = [(r["ecu"], r["attack"], r["result"], r["nrc"], r["service"]) for r in s["ota"]]
    assert got == [("BCM", "wrong_key", "refused", "0x35", "SecurityAccess"),
                   ("BCM", "foreign", "refused", "0x31", "TransferData"),
                   ("BCM", "replay", "refused", "0x22", "RoutineControl"),
                   ("BCM", "tampered", "refused", "0x72", "TransferData"),
                   ("EPS", None, "updated", None, None)]
    assert s["ota_updated"] == 1
    assert s["ota_refused_by_nrc"] == {"0x22": 1, "0x31": 1, "0x35": 1, "0x72": 1}
    assert s["ota_versions"] == {"ABS": "1.0.0", "BCM": "1.0.0", "EPS": "1.1.0", "GATEWAY": "1.0.0"}
    eps = v.ecus["EPS"]
    assert (eps.slot, eps.ota_reboots, eps.resets) == ("a", 1, 1)
    assert eps.diag.server.updater.store.record == {"active": "a", "floor": 1001000, "trial": None, "boots": 0}
    # It rejoined: the same epoch as everyone; the bus stayed authenticated.
    assert len({e.epoch for e in v.ecus.values()}) == 1 and s["epoch"] >= 4
    assert s["events"]["slave_join"] == 4  # three at start, one after the reboot
    assert s["authentic_rejected"] == 0, s["authentic_rejected_by_reason"]
    assert s["frames_verified"] > 5000
    assert s["ota"][-1]["bytes"] > 200000
    text = report.summary_text(s).splitlines()
    assert "ota: BCM 1.1.0 (wrong_key): refused by SecurityAccess 0x35, 0 bytes in 0.0 s" in text
    assert [l for l in text if l.startswith("ota: EPS 1.1.0: updated, %d bytes in " % s["ota"][-1]["bytes"])]


def test_background_load_stays_off_the_diagnostic_ids():
    v = make(duration_s=1.0, bus_load=0.9)
    v.record_trace()
    v.run()
    ids = {can_id for _, can_id, _, _, sender in v.trace if sender == "background"}
    assert len(ids) > 40 and min(ids) >= 0x790 and max(ids) < 0x7E0


@pytest.mark.parametrize("ota, message", [
    ({"ecu": "NOPE"}, "scenario: [ota #1] ecu: NOPE is not a [[ecu]] name (ABS, BCM, EPS, GATEWAY)"),
    ({"ecu": "EPS", "attack": "bribe"},
     'scenario: [ota #1] attack: one of "tampered", "foreign", "replay", "wrong_key", not the string "bribe"'),
    ({"ecu": "EPS", "at_s": "soon"}, 'scenario: [ota #1] at_s: must be a number, not the string "soon"'),
    ({"ecu": "EPS", "version": 3}, "scenario: [ota #1] version: must be a string, not 3"),
])
def test_scenario_ota_mistakes(ota, message):
    with pytest.raises(scenario.ScenarioError) as e:
        make(ota=[ota])
    assert str(e.value) == message


def test_ota_in_a_real_time_run_is_one_error_line(tmp_path, capsys):
    from host_tools.cli import main

    path = tmp_path / "rt.toml"
    path.write_text('name = "rt"\ndbc = "%s"\n[[ecu]]\nname = "GATEWAY"\nrole = "master"\nmodule = true\n'
                    '[[ecu]]\nname = "ABS"\nmodule = true\n'
                    '[[ecu]]\nname = "EPS"\nprocess = "micropython"\n[[ota]]\necu = "EPS"\n'
                    % scenario.os.path.join(scenario.ROOT, "can_dbc", "vehicle.dbc"))
    assert main(["emulate", str(path)]) == 2
    assert capsys.readouterr().err == "error: [[ota]] updates run in virtual time only: run the scenario with --inline\n"
