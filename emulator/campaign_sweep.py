# What a campaign runs: scenario files with dotted-key overrides
# (`rekey.period_ms=2000`, `fault.0.rate=0.05`, `ecu.ADAS.process=inline`),
# swept over every combination of the values given, each checked by the
# scenario loader before anything runs.
import copy
import itertools
import os

from emulator import scenario


def read(path):
    import tomllib

    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise scenario.ScenarioError("cannot read %s: %s" % (path, e.strerror)) from None
    except tomllib.TOMLDecodeError as e:
        raise scenario.ScenarioError("%s is not valid TOML: %s" % (path, e)) from None


def apply_override(raw, text):
    """A copy of raw with `dotted.key=value` set. The key must exist in raw
    and the value is read as the type of the value it replaces."""
    dotted, sep, value = text.partition("=")
    parts = dotted.strip().split(".")
    if not sep or not all(parts):
        raise scenario.ScenarioError("--set %s: expected dotted.key=value" % text)
    out = copy.deepcopy(raw)
    target = out
    for i, part in enumerate(parts[:-1]):
        target = _child(target, part, parts[:i + 1], text)
    key = parts[-1]
    if not isinstance(target, dict) or key not in target or isinstance(target[key], (dict, list)):
        raise scenario.ScenarioError("--set %s: no such scenario key" % text)
    target[key] = _parse(target[key], value.strip(), text)
    return out


def _child(node, part, path, text):
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list):
        if part.isdigit() and int(part) < len(node):
            return node[int(part)]
        named = [e for e in node if isinstance(e, dict) and e.get("name") == part]
        if len(named) == 1:
            return named[0]
    raise scenario.ScenarioError("--set %s: the scenario has no %s" % (text, ".".join(path)))


def _parse(old, value, text):
    if isinstance(old, bool):
        if value.lower() not in ("true", "false"):
            raise scenario.ScenarioError("--set %s: %s is not true or false" % (text, value))
        return value.lower() == "true"
    try:
        if isinstance(old, int):
            return int(value, 0)
        if isinstance(old, float):
            return float(value)
    except ValueError:
        kind = "an integer" if isinstance(old, int) else "a number"
        raise scenario.ScenarioError("--set %s: %s is not %s" % (text, value, kind)) from None
    return value


def load(path, overrides=()):
    """The checked scenario of a file after `dotted.key=value` overrides."""
    raw = read(path)
    for text in overrides:
        raw = apply_override(raw, text)
    return scenario.check(raw, os.path.dirname(os.path.abspath(path)))


def parse_sweep(texts):
    """`--set KEY=V1,V2` options -> [(KEY, [V1, V2]), ...], in option order."""
    out = []
    for text in texts:
        key, sep, values = text.partition("=")
        key = key.strip()
        items = [v.strip() for v in values.split(",")]
        if not sep or not key or not all(items):
            raise scenario.ScenarioError("--set %s: expected KEY=V1,V2,..." % text)
        if key in [k for k, _ in out]:
            raise scenario.ScenarioError("--set %s: %s is set twice" % (text, key))
        out.append((key, items))
    return out


def combinations(sweep):
    """Every combination of the swept values, as [(KEY, value text), ...]."""
    keys = [k for k, _ in sweep]
    return [list(zip(keys, values)) for values in itertools.product(*[v for _, v in sweep])]


class Task:
    """One run of a campaign: a scenario file, a seed, one combination."""

    __slots__ = ("path", "seed", "params", "scenario")

    def __init__(self, path, seed, params, checked):
        self.path = path
        self.seed = seed
        self.params = params  # [(KEY, value text), ...]
        self.scenario = checked  # the checked scenario dict, seed set

    def command(self):
        # The one-line command that runs this alone, with the same result.
        sets = "".join(" --set %s=%s" % kv for kv in self.params)
        return "qkd-secoc emulate %s --inline --seed %d%s" % (self.path, self.seed, sets)


def tasks(paths, seeds, sweep):
    """Every (scenario, combination, seed) Task, each scenario and
    combination checked first; ScenarioError names the first bad one."""
    out = []
    for path in paths:
        raw = read(path)
        for params in combinations(sweep):
            base = raw
            for kv in params:
                base = apply_override(base, "%s=%s" % kv)
            try:
                checked = scenario.check(copy.deepcopy(base), os.path.dirname(os.path.abspath(path)))
            except scenario.ScenarioError as e:
                sets = "".join(" --set %s=%s" % kv for kv in params)
                raise scenario.ScenarioError("%s%s: %s" % (path, sets, e)) from None
            for seed in seeds:
                s = copy.deepcopy(checked)
                s["seed"] = seed
                out.append(Task(path, seed, params, s))
    return out
