# Scenario files: a TOML description of one virtual vehicle run. A scenario
# plus its seed fully determines a virtual-time run.
#
#   name, seed, duration_s, dbc, bitrate, data_bitrate, bus_load,
#   [rekey]      period_ms, grace_ms, retry_ms, activate_deadline_ms,
#                key_lifetime_ms, key_lifetime_frames
#   [freshness]  profile1_fv_bits (complete FV length of Profile 1 PDUs)
#   [qkd]        km, loss_db_per_km, max_keys, key_rate_scale, uart_baud
#   [[ecu]]      name (a DBC node), role ("master" once), module (bool),
#                process ("inline" or "micropython")
#   [[attack]]   kind (replay, spoof, tamper, flood, isotp_hog, fc_abuse,
#                rekey_replay, join_replay), at_s, duration_s, rate_hz,
#                target (a DBC message name; flood: can_id), ecu (a DBC node:
#                isotp_hog (absent: every slave), fc_abuse, join_replay)
#   [[fault]]    kind (loss, bit_errors: rate; reset, unplug, deafen: ecu,
#                at_s, duration_s for unplug and deafen)
#   [[eavesdrop]] at_s, duration_s, fraction
import os
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT = os.path.join(ROOT, "scenarios", "default.toml")

_DEFAULTS = {
    "name": "scenario", "seed": 1, "duration_s": 10.0, "dbc": "can_dbc/vehicle.dbc",
    "bitrate": 500000, "data_bitrate": 2000000, "bus_load": 0.0,
    "rekey": {}, "freshness": {}, "qkd": {}, "ecu": [], "attack": [], "fault": [], "eavesdrop": [],
}
_ATTACKS = ("replay", "spoof", "tamper", "flood", "isotp_hog", "fc_abuse", "rekey_replay", "join_replay")
_ATTACKS_ON_ECU = ("fc_abuse", "join_replay")  # ecu required; isotp_hog takes it optionally
_FAULTS = ("loss", "bit_errors", "reset", "unplug", "deafen")


class ScenarioError(ValueError):
    """A scenario file that cannot be run, with the reason in one line."""


def load(path):
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ScenarioError("cannot read %s: %s" % (path, e.strerror)) from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError("%s is not valid TOML: %s" % (path, e)) from None
    return check(data, os.path.dirname(os.path.abspath(path)))


def check(data, base=ROOT):
    s = dict(_DEFAULTS)
    unknown = set(data) - set(_DEFAULTS)
    if unknown:
        raise ScenarioError("unknown scenario keys: %s" % ", ".join(sorted(unknown)))
    s.update(data)
    if not isinstance(s["seed"], int):
        raise ScenarioError("seed must be an integer")
    if not 0 < float(s["duration_s"]) <= 3600:
        raise ScenarioError("duration_s must be within 0..3600")
    if not 0 <= float(s["bus_load"]) <= 1:
        raise ScenarioError("bus_load is a fraction 0..1")
    dbc = s["dbc"]
    for candidate in (os.path.join(base, dbc), os.path.join(ROOT, dbc)):
        if os.path.exists(candidate):
            s["dbc"] = candidate
            break
    else:
        raise ScenarioError("DBC file not found: %s (looked relative to %s and to %s)"
                            % (dbc, base or ".", ROOT))
    masters = [e for e in s["ecu"] if e.get("role") == "master"]
    if len(masters) != 1:
        raise ScenarioError("exactly one [[ecu]] must have role = \"master\"")
    names = [e.get("name") for e in s["ecu"]]
    if len(set(names)) != len(names) or None in names:
        raise ScenarioError("every [[ecu]] needs a distinct name")
    for e in s["ecu"]:
        if e.get("process", "inline") not in ("inline", "micropython"):
            raise ScenarioError("ecu %s: process is \"inline\" or \"micropython\"" % e["name"])
    for a in s["attack"]:
        if a.get("kind") not in _ATTACKS:
            raise ScenarioError("attack kind must be one of %s" % ", ".join(_ATTACKS))
        slaves = [e["name"] for e in s["ecu"] if e.get("role") != "master"]
        if (a["kind"] in _ATTACKS_ON_ECU or "ecu" in a) and a.get("ecu") not in slaves:
            raise ScenarioError("attack %s: ecu %r is not a slave ECU of the scenario" % (a["kind"], a.get("ecu")))
    for f in s["fault"]:
        if f.get("kind") not in _FAULTS:
            raise ScenarioError("fault kind must be one of %s" % ", ".join(_FAULTS))
        if f["kind"] in ("reset", "unplug", "deafen") and f.get("ecu") not in names:
            raise ScenarioError("fault %s: ecu %r is not in the scenario" % (f["kind"], f.get("ecu")))
    return s
