# What a campaign shows and writes: the progress bar, the summary table per
# parameter combination (runs, failed runs, min/median/p99/max of each
# figure), the failing runs with the command that reproduces each,
# DIR/results.csv (one row per run), DIR/summary.json and a PNG per swept
# parameter with each figure against it.
import csv
import json
import os

import numpy

from emulator.campaign_run import FIGURES

STATS = ("min", "median", "p99", "max")


class Progress:
    """The progress bar: runs done, failures so far, ETA."""

    def __init__(self, total, write, width=30):
        self.total = total
        self.done = 0
        self.failed = 0
        self.write = write
        self.width = width
        self.start = None

    def line(self, now):
        if self.start is None:
            self.start = now
        fill = self.width * self.done // max(1, self.total)
        rate = self.done / (now - self.start) if self.done and now > self.start else 0
        eta = "%d:%02d" % divmod(int((self.total - self.done) / rate), 60) if rate else "-:--"
        return "[%s%s] %d/%d runs, %d failed, ETA %s" % (
            "#" * fill, "." * (self.width - fill), self.done, self.total, self.failed, eta)

    def update(self, row, now):
        self.done += 1
        self.failed += bool(row["failed"])
        self.write(self.line(now))


def distribution(values):
    values = [v for v in values if v is not None]
    if not values:
        return dict((k, None) for k in STATS)
    a = numpy.asarray(values, dtype=float)
    return {"min": float(a.min()), "median": float(numpy.median(a)),
            "p99": float(numpy.percentile(a, 99)), "max": float(a.max())}


def summarize(tasks, rows, sweep):
    """summary.json's content: per combination (scenario and swept values)
    the runs, failed runs and figure distributions; the failing runs."""
    groups = {}
    for task, row in zip(tasks, rows):
        if row is None:
            continue
        key = (task.path, tuple(task.params))
        groups.setdefault(key, []).append(row)
    combos = []
    for (path, params), group in groups.items():
        figures = [f for f in FIGURES if any(f in r for r in group)]
        combos.append({"scenario": path, "params": dict(params), "runs": len(group),
                       "failed": sum(1 for r in group if r["failed"]),
                       "figures": dict((f, distribution([r.get(f) for r in group])) for f in figures)})
    failing = [{"scenario": t.path, "seed": t.seed, "params": dict(t.params), "reasons": r["failures"],
                "command": t.command()} for t, r in zip(tasks, rows) if r is not None and r["failed"]]
    return {"swept": [k for k, _ in sweep], "combinations": combos, "failing_runs": failing,
            "runs": sum(c["runs"] for c in combos), "failed": len(failing)}


def table_text(summary):
    lines = []
    for c in summary["combinations"]:
        params = " ".join("%s=%s" % kv for kv in c["params"].items())
        lines.append("%s %s: %d runs, %d failed" % (c["scenario"], params or "(as in the file)",
                                                     c["runs"], c["failed"]))
        lines.append("  %-22s %10s %10s %10s %10s" % (("figure",) + STATS))
        for name, d in c["figures"].items():
            lines.append("  %-22s %s" % (name, " ".join("%10s" % _num(d[k]) for k in STATS)))
    if summary["failing_runs"]:
        lines.append("failing runs (each command reproduces one alone):")
        for f in summary["failing_runs"]:
            lines.append("  %s\n      %s" % (f["command"], f["reasons"]))
    return "\n".join(lines)


def _num(v):
    if v is None:
        return "-"
    return "%d" % v if float(v).is_integer() else "%.1f" % v


def write_csv(rows, sweep, path):
    columns = ["scenario", "seed"] + [k for k, _ in sweep] + ["failed", "failures"] + list(FIGURES) + ["run_s"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, columns, restval="")
        w.writeheader()
        for row in rows:
            if row is not None:
                w.writerow(row)


def write_json(summary, path):
    with open(path, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")


def plot(rows, sweep, directory):
    """One PNG per parameter swept over several values: each figure
    against it, every run a dot and the median a line. Returns the paths
    written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r is not None]
    figures = [f for f in FIGURES if any(r.get(f) is not None for r in rows)]
    paths = []
    for key, values in [kv for kv in sweep if len(kv[1]) > 1]:
        xs = _axis(values)
        fig, axes = plt.subplots(len(figures), 1, sharex=True, figsize=(7, 2.2 * len(figures)), squeeze=False)
        for ax, name in zip(axes[:, 0], figures):
            points = [(xs[r[key]], r[name]) for r in rows if r.get(name) is not None]
            ax.plot([p[0] for p in points], [p[1] for p in points], ".", alpha=0.4, color="tab:blue")
            medians = [(xs[v], numpy.median([y for x, y in points if x == xs[v]]))
                       for v in values if any(x == xs[v] for x, _ in points)]
            ax.plot([m[0] for m in medians], [m[1] for m in medians], "-o", color="tab:orange", label="median")
            ax.set_ylabel(name, fontsize=8)
        if not all(isinstance(x, float) for x in xs.values()):
            axes[-1, 0].set_xticks(list(range(len(values))), values)
        axes[-1, 0].set_xlabel(key)
        axes[0, 0].legend(loc="best", fontsize=8)
        fig.suptitle("qkd-secoc campaign: figures against %s" % key)
        fig.tight_layout()
        path = os.path.join(directory, "plot_%s.png" % key.replace(".", "_"))
        fig.savefig(path, dpi=80, metadata={"Software": None})
        plt.close(fig)
        paths.append(path)
    return paths


def _axis(values):
    # value text -> x: numbers on a numeric axis, anything else (true,
    # inline...) at its position in the list.
    try:
        return dict((v, float(v)) for v in values)
    except ValueError:
        return dict((v, i) for i, v in enumerate(values))
