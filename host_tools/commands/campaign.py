# `qkd-secoc campaign SCENARIO... --seeds N`: many seeded virtual-time runs
# and parameter sweeps on Dask (emulator.campaign), with a progress bar, a
# summary table, DIR/results.csv, DIR/summary.json and plots.
import argparse
import os
import sys
import time

from host_tools.args import int_in
from host_tools.errors import UserError

EPILOG = """examples:
  qkd-secoc campaign scenarios/faults.toml --seeds 200
  qkd-secoc campaign scenarios/faults.toml --seeds 20 --set rekey.period_ms=1000,3000 \\
      --set bus_load=0.3,0.6,0.9 --out out/sweep     # 6 combinations x 20 seeds, plots
  qkd-secoc campaign scenarios/faults.toml --seeds 1000 --scheduler tcp://10.0.0.5:8786

Every (scenario, seed, combination) is one Dask task: a virtual-time run with
every ECU in process (process = "micropython" ECUs run inline). A run fails
when an attack frame is accepted, an authentic frame is rejected outside a
fault window, an ECU stays off the master's epoch too long, or anything
raises (emulator/rules.py); each failing run is listed with the `qkd-secoc
emulate` command that reproduces it. Exit status 1 when any run failed,
130 after Ctrl-C (the results so far are written).
"""


def add_subparser(subparsers):
    p = subparsers.add_parser("campaign", help="many seeded runs and parameter sweeps on Dask",
                              description="Run scenarios over many seeds and parameter combinations on Dask.",
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", nargs="+", help="scenario TOML files")
    p.add_argument("--seeds", type=int_in(1, 10_000_000), required=True, metavar="N", help="seeds per combination")
    p.add_argument("--seed-start", type=int_in(0, (1 << 63) - 1 - 10_000_000), default=1, metavar="S",
                   help="first seed (default 1): seeds S..S+N-1")
    p.add_argument("--set", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="sweep a scenario key over values, e.g. rekey.period_ms=1000,4000 or "
                        "fault.0.rate=0.01,0.05 (repeatable: every combination runs)")
    p.add_argument("--workers", type=int_in(1, 1024), metavar="W",
                   help="local worker processes (default: one per core)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="use this Dask scheduler's workers instead")
    p.add_argument("--time-limit", type=float, default=300.0, metavar="S",
                   help="a run taking longer fails (default 300 s)")
    p.add_argument("--out", default=os.path.join("out", "campaign"), metavar="DIR",
                   help="results.csv, summary.json and plots (default out/campaign)")
    p.set_defaults(func=run)


def run(args):
    from emulator import campaign, campaign_report, campaign_sweep, scenario

    if args.workers and args.scheduler:
        raise UserError("--workers is for the local cluster; a --scheduler has its own workers")
    if not 0 < args.time_limit <= 86400:
        raise UserError("--time-limit must be within 0..86400 s")
    seeds = range(args.seed_start, args.seed_start + args.seeds)
    try:
        sweep = campaign_sweep.parse_sweep(args.set)
        tasks = campaign_sweep.tasks(args.scenario, seeds, sweep)
    except scenario.ScenarioError as e:
        raise UserError(str(e)) from None
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        raise UserError("cannot write to %s: %s" % (args.out, e.strerror)) from None
    where = ("the Dask scheduler at %s" % args.scheduler if args.scheduler
             else "%d local worker processes" % (args.workers or campaign.default_workers()))
    print("campaign: %d runs (%d scenario(s) x %d combination(s) x %d seeds) on %s"
          % (len(tasks), len(args.scenario), len(campaign_sweep.combinations(sweep)), args.seeds, where),
          flush=True)
    progress = campaign_report.Progress(len(tasks), _bar_writer(len(tasks)))
    progress.start = time.monotonic()
    try:
        with campaign.client(args.workers, args.scheduler) as client:
            outcome = campaign.run(client, tasks, args.time_limit,
                                   lambda row: progress.update(row, time.monotonic()))
    except (OSError, TimeoutError) as e:
        raise UserError("cannot reach the Dask scheduler at %s: %s" % (args.scheduler, e)) from None
    if sys.stdout.isatty():
        print()
    summary = campaign_report.summarize(tasks, outcome.rows, sweep)
    summary.update(wall_s=outcome.wall_s, interrupted=outcome.interrupted, planned=len(tasks))
    print(campaign_report.table_text(summary))
    print("%d runs in %.1f s, %d failed%s" % (summary["runs"], outcome.wall_s, summary["failed"],
                                              ", interrupted: results so far" if outcome.interrupted else ""))
    paths = [os.path.join(args.out, "results.csv"), os.path.join(args.out, "summary.json")]
    try:
        campaign_report.write_csv(outcome.rows, sweep, paths[0])
        campaign_report.write_json(summary, paths[1])
        if sweep and outcome.finished():
            paths += campaign_report.plot(outcome.rows, sweep, args.out)
    except OSError as e:
        raise UserError("cannot write to %s: %s" % (args.out, e.strerror)) from None
    print("wrote %s" % ", ".join(paths))
    if outcome.interrupted:
        return 130
    return 1 if summary["failed"] else 0


def _bar_writer(total):
    # A terminal gets one bar redrawn in place; a log gets a line every 5%.
    if sys.stdout.isatty():
        return lambda line: print("\r" + line, end="", flush=True)
    step = max(1, total // 20)
    seen = [0]

    def write(line):
        seen[0] += 1
        if seen[0] % step == 0 or seen[0] == total:
            print(line, flush=True)

    return write
