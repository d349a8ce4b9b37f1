# What a campaign runs: scenario files with dotted-key overrides
# (`rekey.period_ms=2000`, `fault.0.rate=0.05`, `ecu.ADAS.process=inline`,
# emulator.scenario.apply_override), swept over every combination of the
# values given, each validated against the scenario schema before anything
# runs.
import copy
import itertools
import os

from emulator import scenario


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
        raw = scenario.read(path)
        for params in combinations(sweep):
            base = raw
            for kv in params:
                base = scenario.apply_override(base, "%s=%s" % kv)
            source = path + "".join(" --set %s=%s" % kv for kv in params)
            checked = scenario.validate(base, source, os.path.dirname(os.path.abspath(path)))
            for seed in seeds:
                s = copy.deepcopy(checked)
                s["seed"] = seed
                out.append(Task(path, seed, params, s))
    return out
