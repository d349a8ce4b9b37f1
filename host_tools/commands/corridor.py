# `qkd-secoc corridor CORRIDOR.toml`: vehicles stock QKD keys at the depot
# and make hybrid QKD + ML-KEM V2I sessions with the roadside units they
# pass (emulator.corridor), in virtual time.
import argparse
import json
import os
import sys

from host_tools.errors import UserError

EPILOG = """examples:
  qkd-secoc corridor scenarios/corridor.toml
  qkd-secoc corridor scenarios/corridor.toml --json out/corridor.json --plot out/corridor.png
  qkd-secoc corridor scenarios/corridor.toml --json      # the JSON report on standard output
"""


def add_subparser(subparsers):
    p = subparsers.add_parser("corridor", help="vehicles, roadside units and the QKD key network along a road",
                              description="Run a corridor: stocking at the depot, trusted-node relay, "
                                          "V2I sessions with the roadside units, an eavesdropper.",
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corridor", metavar="CORRIDOR.toml", help="corridor description (see scenarios/corridor.toml)")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="write the report as JSON (no FILE or '-': standard output, instead of the text)")
    p.add_argument("--plot", nargs="?", const="corridor.png", metavar="FILE",
                   help="write a PNG of stock levels and sessions along the road (default corridor.png)")
    p.set_defaults(func=run)


def run(args):
    from emulator import corridor, corridor_spec

    for path in (args.json, args.plot):
        folder = os.path.dirname(os.path.abspath(path)) if path and path != "-" else None
        if folder and not os.path.isdir(folder):
            raise UserError("cannot write %s: no directory %s" % (path, folder))
    try:
        spec = corridor_spec.load(args.corridor)
    except corridor_spec.CorridorError as e:
        raise UserError(str(e)) from None
    result = corridor.run(spec)
    report = result.report()
    to_stdout = args.json == "-"
    if not to_stdout:
        print(summary_text(report))
    if args.json:
        text = json.dumps(report, indent=2, sort_keys=True) + "\n"
        if to_stdout:
            sys.stdout.write(text)
        else:
            _write(args.json, lambda p: open(p, "w").write(text))
    if args.plot:
        from emulator.corridor_plot import plot

        _write(args.plot, lambda p: plot(result, p))
        print("wrote %s" % args.plot, file=sys.stderr if to_stdout else sys.stdout)
    sys.stdout.flush()
    return 0


def _write(path, write):
    try:
        write(path)
    except OSError as e:
        raise UserError("cannot write %s: %s" % (path, e.strerror)) from None


def summary_text(r):
    s = r["sessions"]
    lines = ["corridor %s (seed %d, %.0f s): %d sessions made, %d refused (%s)"
             % (r["name"], r["seed"], r["duration_s"], s["made"], sum(s["refused"].values()),
                ", ".join("%s %d" % kv for kv in sorted(s["refused"].items())) or "none")]
    for name, v in r["vehicles"].items():
        lines.append("  %s: %d keys stocked, %d consumed, %d left; %d sessions, %d refused%s"
                     % (name, v["stocked"], v["consumed"], v["left"], v["sessions_made"], v["sessions_refused"],
                        "".join("; no stock for %s (%s)" % kv for kv in v["stock_refused"].items())))
    for name, x in r["rsus"].items():
        lat = "-" if x["relay_latency_ms"] is None else "%.1f ms" % x["relay_latency_ms"]
        lines.append("  %s: %d sessions, %d refused, relay latency %s"
                     % (name, x["sessions_made"], x["sessions_refused"], lat))
    rel = r["relay"]
    lines.append("  relay: %d keys over %d hops, %d requests refused" % (rel["keys_relayed"], rel["hops"], rel["refused"]))
    return "\n".join(lines)
