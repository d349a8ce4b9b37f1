# `qkd-secoc emulate SCENARIO`: runs the virtual vehicle of a scenario file.
import argparse
import json
import os
import sys

from host_tools.args import int_in
from host_tools.errors import UserError

EPILOG = """examples:
  qkd-secoc emulate scenarios/default.toml
  qkd-secoc emulate scenarios/default.toml --json out/summary.json \\
      --trace out/trace.blf --plot out/timeline.png
  qkd-secoc emulate scenarios/default.toml --inline --trace out/t.blf \\
      --export out/run                   # keys and node configs for trace analyze

A scenario with only in-process ECUs runs in virtual time, faster than real
time and reproducibly (the same scenario and seed give the same trace).
ECUs with process = "micropython" run as real MicroPython unix-port
processes on the emulator's socketcand bus server, in real time.
"""


def add_subparser(subparsers):
    p = subparsers.add_parser("emulate", help="run the virtual vehicle of a scenario file",
                              description="Run a scenario: ECUs, QKD modules, rekeys, attacks, faults.",
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--seed", type=int, help="override the scenario's seed")
    p.add_argument("--duration", type=float, help="override the scenario's duration (s)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one scenario key, e.g. rekey.period_ms=2000, attack.0.rate_hz=50, "
                        "ecu.ADAS.process=inline (repeatable; checked like the file)")
    p.add_argument("--json", metavar="FILE", help="write the summary as JSON")
    p.add_argument("--trace", metavar="FILE", help="write the CAN trace (.blf or .asc)")
    p.add_argument("--plot", metavar="FILE", help="write a PNG timeline")
    p.add_argument("--export", metavar="DIR",
                   help="write DIR/keys.json (the QKD keys the gateway drew) and DIR/<ECU>.json "
                        "(each ECU's node configuration, with authentication keys), for "
                        "`qkd-secoc trace analyze`, `monitor` and firmware/unix_ecu.py")
    p.add_argument("--inline", action="store_true",
                   help="run every ECU in process (virtual time), even those marked micropython")
    p.add_argument("--quiet", action="store_true", help="no live progress")
    p.add_argument("--bus-port", type=int_in(0, 65535), default=0, metavar="PORT",
                   help="real-time runs: the bus server's TCP port on 127.0.0.1 (default: any free one)")
    p.set_defaults(func=run)


def run(args):
    from emulator import report, rules, scenario
    from emulator.vehicle import Vehicle

    if args.trace and not args.trace.lower().endswith((".blf", ".asc")):
        raise UserError("--trace must name a .blf or .asc file")
    for path in (args.json, args.trace, args.plot):
        # Find out now, not after the run, that a result cannot be written.
        folder = os.path.dirname(os.path.abspath(path)) if path else None
        if folder and not os.path.isdir(folder):
            raise UserError("cannot write %s: no directory %s" % (path, folder))
    overrides = list(args.set)
    if args.seed is not None:
        overrides.append("seed=%d" % args.seed)
    if args.duration is not None:
        overrides.append("duration_s=%r" % args.duration)
    try:
        s = scenario.load(args.scenario, overrides)
    except scenario.ScenarioError as e:
        raise UserError(str(e)) from None
    vehicle = Vehicle(s, inline_only=args.inline)
    if args.trace:
        vehicle.record_trace()
    progress = None if args.quiet else (lambda v: print(report.progress_line(v), flush=True))
    if vehicle.external:
        from emulator.realtime import ExternalEcuError, run_realtime

        try:
            summary = run_realtime(vehicle, progress, args.bus_port)
        except ExternalEcuError as e:
            raise UserError(str(e)) from None
        except OSError as e:
            raise UserError("cannot serve the bus on 127.0.0.1:%d: %s" % (args.bus_port, e.strerror)) from None
        broken = []
    else:
        log = rules.RejectionLog(vehicle)
        summary = vehicle.run(progress)
        broken = rules.failures(s, summary, log.entries)
    print(report.summary_text(summary))
    for line in broken:
        print("rule broken: %s" % line)
    for path, write in ((args.json, lambda p: _write_json(summary, p)),
                        (args.trace, lambda p: report.write_trace(vehicle.trace, p)),
                        (args.plot, lambda p: report.plot(vehicle, p))):
        if path:
            try:
                write(path)
            except OSError as e:
                raise UserError("cannot write %s: %s" % (path, e.strerror)) from None
            print("wrote %s" % path)
    if args.export:
        try:
            paths = vehicle.export(args.export)
        except OSError as e:
            raise UserError("cannot write to %s: %s" % (args.export, e.strerror)) from None
        print("wrote %s (keys and node configurations, 0600)" % ", ".join(paths))
    sys.stdout.flush()
    return 0


def _write_json(summary, path):
    with open(path, "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
        f.write("\n")
