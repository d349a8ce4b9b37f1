# Scenario files: a TOML description of one virtual vehicle run. A scenario
# plus its seed fully determines a virtual-time run.
#
# The schema is the table TABLES below: every key with its type, range,
# default and meaning, so a new key is one Key(...) line and a new attack or
# fault kind one line in its table's `kinds`. validate() checks a raw dict
# (as read from TOML) against it before anything runs, including every name
# against the DBC and the [[ecu]] list, and reports every problem, one line
# each: `FILE: [table] key: what is wrong`. apply_override() sets one
# dotted key (`rekey.period_ms=2000`, `attack.0.rate_hz=50`,
# `ecu.ADAS.process=inline`) in a raw dict with the schema's type checking.
import copy
import os

from emulator import tomlfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT = os.path.join(ROOT, "scenarios", "default.toml")

REQUIRED = object()  # a Key default: the key must be given

# How each value type is named in an error.
_TYPES = {
    int: "integer", float: "number", str: "string", bool: "boolean",
    "message": "DBC message name", "node": "DBC node name", "ecu": "[[ecu]] name", "path": "file path",
}


class Key:
    __slots__ = ("name", "type", "lo", "hi", "default", "doc", "above", "choices")

    def __init__(self, name, type, lo=None, hi=None, default=None, doc="", above=False, choices=None):
        self.name = name
        self.type = type  # int, float, str, bool, or one of the name types of _TYPES
        self.lo = lo
        self.hi = hi
        self.above = above  # the value must be greater than lo, not equal
        self.default = default
        self.doc = doc
        self.choices = choices


class Table:
    __slots__ = ("name", "array", "keys", "kinds", "doc")

    def __init__(self, name, keys, array=False, kinds=None, doc=""):
        self.name = name
        self.array = array  # [[name]]: a list of tables
        self.keys = dict((k.name, k) for k in keys)
        # kind -> the keys this kind takes beyond the ones every kind takes
        # (those named in no kind); None: the table has no `kind` key
        self.kinds = kinds
        self.doc = doc


TABLES = dict((t.name, t) for t in (
    Table("", doc="the run", keys=[
        Key("name", str, 1, 64, "scenario", "shown in the summary and the plot title (1..64 characters)"),
        Key("seed", int, 0, (1 << 63) - 1, 1, "with the scenario, fixes every random choice"),
        Key("duration_s", float, 0, 3600, 10.0, "vehicle time to run (s)", above=True),
        Key("dbc", "path", default="can_dbc/vehicle.dbc",
            doc="the DBC whose SecOC messages make the traffic (relative to the file or the repository)"),
        Key("bitrate", int, 10_000, 1_000_000, 500_000, "nominal bit rate (bit/s)"),
        Key("data_bitrate", int, 10_000, 10_000_000, 2_000_000, "CAN FD data phase bit rate (bit/s)"),
        Key("bus_load", float, 0, 1, 0.0, "bus load to reach with filler frames 0x790-0x7DF (fraction)"),
    ]),
    Table("rekey", doc="the rekey protocol's timing", keys=[
        Key("period_ms", int, 100, 86_400_000, 5000, "a new epoch every period_ms"),
        Key("grace_ms", int, 0, 600_000, 500, "the old key still verifies this long after a switch"),
        Key("retry_ms", int, 10, 60_000, 200, "resend an unacknowledged rekey message"),
        Key("activate_deadline_ms", int, 10, 600_000, 2000, "give up an epoch not acknowledged by then"),
        Key("join_retry_ms", int, 10, 60_000, 500, "a slave's JOIN repeat after a reset"),
        Key("key_lifetime_ms", int, 1, 1 << 31, 60000, "rekey at the latest after this long"),
        Key("key_lifetime_frames", int, 1, 1 << 32, 1_000_000, "rekey at the latest after this many frames"),
        Key("can_fd", bool, default=False, doc="rekey messages and ACTIVATE in CAN FD frames of up to 64 bytes"),
    ]),
    Table("freshness", doc="freshness values", keys=[
        Key("profile1_fv_bits", int, 8, 64, 32, "complete FV length of Profile 1 PDUs (bits)"),
        Key("mode", str, default="single", choices=("single", "multi"),
            doc="multi: multi-counter freshness on every PDU (docs/freshness.md)"),
        Key("layout", str, 1, 512, doc="freshness layout, a name or its text (default: the DBC's SecOC_FvLayout)"),
        Key("sync_can_id", int, 0, 0x7FF, doc="CAN ID of the sync message (default: the DBC's SecOC_FvSyncId)"),
        Key("sync_period_ms", int, 10, 600_000, doc="sync period (default: the DBC's SecOC_FvSyncPeriod)"),
    ]),
    Table("qkd", doc="the QKD module pair and its fibre", keys=[
        Key("km", float, 0, 400, 25.0, "fibre length (km)"),
        Key("loss_db_per_km", float, 0, 10, 0.2, "fibre loss (dB/km)"),
        Key("max_keys", int, 1, 100_000, 64, "the modules' key pool size (256-bit keys)"),
        Key("uart_baud", int, 1200, 4_000_000, 115200, "agent to module UART (baud)"),
    ]),
    Table("ecu", array=True, doc="one ECU: a DBC node", keys=[
        Key("name", "node", default=REQUIRED, doc="a node of the DBC"),
        Key("role", str, default="slave", choices=("master", "slave"), doc="exactly one master"),
        Key("module", bool, default=False, doc="has its own QKD optical module"),
        Key("process", str, default="inline", choices=("inline", "micropython"),
            doc="micropython: a real MicroPython unix-port process (real-time run)"),
    ]),
    Table("attack", array=True, doc="an attacker node on the bus", keys=[
        Key("kind", str, default=REQUIRED, doc="what it does (attacks.py)"),
        Key("target", "message", default=REQUIRED, doc="the SecOC message attacked"),
        Key("can_id", int, 0, 0x7FF, 0, "flood: the CAN ID sent"),
        Key("at_s", float, 0, 3600, 0.0, "start (s)"),
        Key("duration_s", float, 0, 3600, 1.0, "length (s)", above=True),
        Key("rate_hz", float, 0, 10_000, 10.0, "frames per second", above=True),
        Key("ecu", "ecu", doc="the slave attacked (isotp_hog: absent, every slave; fc_abuse, join_replay: "
                              "required)"),
    ], kinds={"replay": ("target",), "spoof": ("target",), "tamper": ("target",), "flood": ("can_id",),
              # on the rekey protocol (docs/rekey-protocol.md, "What an attacker on the bus can do")
              "isotp_hog": ("ecu",), "fc_abuse": ("ecu",), "rekey_replay": (), "join_replay": ("ecu",)}),
    Table("fault", array=True, doc="a fault", keys=[
        Key("kind", str, default=REQUIRED, doc="what goes wrong"),
        Key("rate", float, 0, 1, REQUIRED, "probability per frame (loss) or per bit (bit_errors)"),
        Key("ecu", "ecu", default=REQUIRED, doc="the ECU reset or unplugged"),
        Key("at_s", float, 0, 3600, 1.0, "when (s)"),
        Key("duration_s", float, 0, 3600, 1.0, "how long the module stays unplugged or the ECU deaf (s)",
            above=True),
    ], kinds={"loss": ("rate",), "bit_errors": ("rate",), "reset": ("ecu", "at_s"),
              "unplug": ("ecu", "at_s", "duration_s"),
              "deafen": ("ecu", "at_s", "duration_s")}),  # the ECU receives nothing meanwhile
    Table("eavesdrop", array=True, doc="an intercept-resend eavesdropper on the QKD link", keys=[
        Key("at_s", float, 0, 3600, 1.0, "start (s)"),
        Key("duration_s", float, 0, 3600, 1.0, "length (s)", above=True),
        Key("fraction", float, 0, 1, 0.5, "share of the pulses intercepted (QBER + fraction/4)"),
    ]),
    Table("ota", array=True, doc="an update of an ECU's agent over UDS (docs/ota.md)", keys=[
        Key("ecu", "ecu", default=REQUIRED, doc="the ECU updated"),
        Key("at_s", float, 0, 3600, 1.0, "when the tester starts (s)"),
        Key("version", str, 5, 32, None, 'the image\'s version "a.b.c" (default 1.1.0; replay: 0.9.0)'),
        Key("attack", str, choices=("tampered", "foreign", "replay", "wrong_key"),
            doc="an update that must be refused (absent: a genuine update)"),
    ]),
))


class ScenarioError(ValueError):
    """A scenario that cannot be run: one line per problem (str() joins
    them so that the CLI prints each as an `error:` line)."""

    def __init__(self, problems):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\nerror: ".join(self.problems))


def read(path):
    """The raw dict of a TOML scenario file."""
    return tomlfile.read(path, ScenarioError)


def load(path, overrides=()):
    """The checked scenario of a file, after `dotted.key=value` overrides."""
    raw = read(path)
    for text in overrides:
        raw = apply_override(raw, text)
    return validate(raw, path, os.path.dirname(os.path.abspath(path)))


def validate(raw, source="scenario", base=ROOT):
    """The Scenario (a dict with every default filled in) of a raw dict, or
    ScenarioError listing every problem. Relative paths are looked up from
    base, then from the repository."""
    from emulator.scenario_names import Names

    problems = []
    out = {}
    out.update(_table(TABLES[""], raw, source, problems, ""))
    names = Names.load(out.get("dbc"), (base, ROOT), source, problems)
    if names.dbc:
        out["dbc"] = names.dbc
    for t in list(TABLES.values())[1:]:
        value = raw.get(t.name, [] if t.array else {})
        if t.array:
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                problems.append("%s: [[%s]]: must be an array of tables" % (source, t.name))
                value = []
            out[t.name] = [_table(t, v, source, problems, "[%s #%d]" % (t.name, i + 1))
                           for i, v in enumerate(value)]
        else:
            if not isinstance(value, dict):
                problems.append("%s: [%s]: must be a table" % (source, t.name))
                value = {}
            out[t.name] = _table(t, value, source, problems, "[%s]" % t.name)
    names.check(out, source, problems, TABLES)
    _check_layout(out["freshness"].get("layout"), source, problems)
    if problems:
        raise ScenarioError(problems)
    return out


def _check_layout(text, source, problems):
    if text is None:
        return
    from keyagent.secoc.fv_layout import FreshnessLayout

    try:
        FreshnessLayout(text)
    except ValueError as e:
        problems.append("%s: [freshness] layout: %s" % (source, e))


def _table(t, data, source, problems, where):
    allowed = set(t.keys)
    if t.kinds is not None:
        kind = data.get("kind")
        if kind not in t.kinds:
            problems.append("%s: %s kind: %s, not %s" % (source, where, _one_of(sorted(t.kinds)), _show(kind)))
            return dict(data)
        some = set(k for keys in t.kinds.values() for k in keys)  # keys only some kinds take
        allowed = (set(t.keys) - some) | set(t.kinds[kind])
    out = {}
    prefix = "%s: %s " % (source, where) if where else "%s: " % source
    for name in data:
        if name not in allowed and not (t.name == "" and name in TABLES):
            known = [k for k in t.keys if k in allowed] + (list(TABLES)[1:] if t.name == "" else [])
            problems.append("%s%s: unknown key (known: %s)" % (prefix, name, ", ".join(known)))
    for name, key in t.keys.items():
        if name not in allowed:
            continue
        if name not in data:
            if key.default is REQUIRED:
                problems.append("%s%s: missing (%s)" % (prefix, name, key.doc))
            elif key.default is not None:
                out[name] = key.default
            continue
        value, problem = _check_value(key, data[name])
        if problem:
            problems.append("%s%s: %s" % (prefix, name, problem))
        else:
            out[name] = value
    return out


def _check_value(key, value):
    """(value as the run uses it, None) or (None, what is wrong)."""
    want = key.type
    given = value
    if want is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif want is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif want is bool:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        return None, "must be a%s %s, not %s" % ("n" if _TYPES[want][0] in "aeiou" else "", _TYPES[want], _show(value))
    if key.choices is not None and value not in key.choices:
        return None, "%s, not %s" % (_one_of(key.choices), _show(value))
    if want is str and key.lo is not None and not key.lo <= len(value) <= key.hi:
        return None, "must be %d to %d characters long, not %d" % (key.lo, key.hi, len(value))
    if want in (int, float) and key.lo is not None:
        if value < key.lo or (key.above and value == key.lo) or value > key.hi:
            return None, "%s is out of range: %s" % (_show(given), _range(key))
    return value, None


def _range(key):
    return ("above %s and at most %s" if key.above else "within %s..%s") % (key.lo, key.hi)


def _one_of(choices):
    return "one of " + ", ".join('"%s"' % c for c in choices)


def _show(value):
    if isinstance(value, str):
        return 'the string "%s"' % value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return "a table" if isinstance(value, dict) else "an array"
    return repr(value)


def apply_override(raw, text):
    """A copy of raw with `dotted.key=value` set, the value read as the
    schema's type for that key: `duration_s=5`, `rekey.period_ms=2000`,
    `attack.0.rate_hz=50` (array index from 0) or `ecu.ADAS.process=inline`."""
    dotted, sep, value_text = text.partition("=")
    parts = dotted.strip().split(".")
    if not sep or not all(parts):
        raise ScenarioError("--set %s: expected dotted.key=value" % text)
    out = copy.deepcopy(raw)
    table = TABLES[""]
    target = out
    if parts[0] in TABLES and parts[0]:
        table = TABLES[parts[0]]
        if table.array:
            if len(parts) != 3:
                raise ScenarioError("--set %s: expected %s.INDEX.key=value" % (text, table.name))
            items = out.setdefault(table.name, [])
            target = _element(items, parts[1], text)
        else:
            if len(parts) != 2:
                raise ScenarioError("--set %s: expected %s.key=value" % (text, table.name))
            target = out.setdefault(table.name, {})
        parts = parts[-1:]
    if len(parts) != 1 or parts[0] not in table.keys:
        raise ScenarioError("--set %s: no such scenario key" % text)
    key = table.keys[parts[0]]
    target[key.name] = _parse(key, value_text.strip(), text)
    return out


def _element(items, which, text):
    if which.isdigit():
        if int(which) < len(items) and isinstance(items[int(which)], dict):
            return items[int(which)]
        raise ScenarioError("--set %s: there are only %d entries" % (text, len(items)))
    named = [e for e in items if isinstance(e, dict) and e.get("name") == which]
    if len(named) != 1:
        raise ScenarioError("--set %s: no entry named %s" % (text, which))
    return named[0]


def _parse(key, value, text):
    try:
        if key.type is int:
            return int(value, 0)
        if key.type is float:
            return float(value)
    except ValueError:
        raise ScenarioError("--set %s: %s is not a%s %s" % (
            text, value, "n" if key.type is int else "", _TYPES[key.type])) from None
    if key.type is bool:
        if value.lower() not in ("true", "false"):
            raise ScenarioError("--set %s: %s is not true or false" % (text, value))
        return value.lower() == "true"
    return value
