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
  qkd-secoc emulate scenarios/default.toml --bus-port 29536 --export out/live
                                         # live: prints the monitor command to paste

A scenario with only in-process ECUs runs in virtual time, faster than real
time and reproducibly (the same scenario and seed give the same trace).
ECUs with process = "micropython" run as real MicroPython unix-port
processes on the emulator's socketcand bus server, in real time, as does a
run with --bus-port. Frames that python-can tools send through the bus port
are counted as external (external_frames, external_rejected by reason).
Ctrl-C stops a run early and still writes what ran ("partial": true).
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
    p.add_argument("--plot", metavar="FILE",
                   help="write the timeline picture; the extension names the format (.png, .svg, .pdf, ...)")
    p.add_argument("--export", metavar="DIR",
                   help="write DIR/keys.json (the QKD keys the gateway drew) and DIR/<ECU>.json "
                        "(each ECU's node configuration, with authentication keys), for "
                        "`qkd-secoc trace analyze`, `monitor` and firmware/unix_ecu.py")
    p.add_argument("--inline", action="store_true",
                   help="run every ECU in process (virtual time), even those marked micropython")
    p.add_argument("--quiet", action="store_true", help="no live progress")
    p.add_argument("--bus-port", type=int_in(0, 65535), metavar="PORT",
                   help="run in real time with a socketcand bus server for python-can tools on "
                        "127.0.0.1:PORT (0: any free one; a scenario with MicroPython ECUs runs in "
                        "real time anyway); with --export, DIR is written before the run starts")
    p.set_defaults(func=run)


def run(args):
    from emulator import report, rules, scenario
    from emulator.clock import S
    from emulator.vehicle import Vehicle

    _check_outputs(args)
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
    partial = False
    broken = []
    try:
        if vehicle.external or args.bus_port is not None:
            summary = _run_realtime(vehicle, progress, args)
        else:
            log = rules.RejectionLog(vehicle)
            summary = vehicle.run(progress)
            broken = rules.failures(s, summary, log.entries)
    except KeyboardInterrupt as e:
        # Ctrl-C: keep what ran (a real-time run hands its summary over).
        summary = getattr(e, "summary", None) or vehicle.summary()
        partial = True
    summary["partial"] = partial
    summary["time_reached_s"] = round(vehicle.clock.now / S, 3)
    if partial:
        print("interrupted at t=%.1f s of %g s: what follows covers the run so far (\"partial\": true)"
              % (vehicle.clock.now / S, s["duration_s"]), flush=True)
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
        print("wrote %s (keys and node configurations, 0600)" % ", ".join(_export(vehicle, args.export)))
    sys.stdout.flush()
    return 130 if partial else 0


def _check_outputs(args):
    # Find out now, not after the run, that a result cannot be written.
    from emulator import report

    if args.trace and not args.trace.lower().endswith((".blf", ".asc")):
        raise UserError("--trace must name a .blf or .asc file")
    if args.plot:
        formats = report.plot_formats()
        ext = os.path.splitext(args.plot)[1].lower().lstrip(".")
        if ext not in formats:
            raise UserError("--plot %s: the extension names the format, one of .%s"
                            % (args.plot, ", .".join(sorted(formats))))
    for path in (args.json, args.trace, args.plot):
        folder = os.path.dirname(os.path.abspath(path)) if path else None
        try:
            if folder:
                os.makedirs(folder, exist_ok=True)  # `out/` in a fresh clone
        except OSError as e:
            raise UserError("cannot write %s: %s" % (path, e.strerror)) from None


def _run_realtime(vehicle, progress, args):
    from emulator.realtime import ExternalEcuError, run_realtime

    def ready(port):
        # DIR before the clock starts: a monitor has the node configurations
        # at once and keys.json follows the run (each key as it is drawn).
        if args.export:
            print("wrote %s (keys.json follows the run)" % ", ".join(_export(vehicle, args.export, live=True)))
            print("watch it with:\n  " + monitor_command(vehicle, port, args.export), flush=True)

    try:
        return run_realtime(vehicle, progress, args.bus_port or 0, on_ready=ready)
    except ExternalEcuError as e:
        raise UserError(str(e)) from None
    except OSError as e:
        raise UserError("cannot serve the bus on 127.0.0.1:%d: %s" % (args.bus_port or 0, e.strerror)) from None


def _export(vehicle, directory, live=False):
    try:
        return vehicle.export(directory, live)
    except OSError as e:
        raise UserError("cannot write to %s: %s" % (directory, e.strerror)) from None


def monitor_command(vehicle, port, directory):
    """The `qkd-secoc monitor` command line for a live run exported to directory."""
    from emulator.scenario import ROOT

    master = [name for name, node in vehicle.nodes.items() if node == 0][0]
    dbc = vehicle.scenario["dbc"]
    keymgmt = os.path.join(os.path.dirname(dbc), "keymgmt.dbc")  # the rekey frames, beside it
    dbcs = [dbc, keymgmt if os.path.exists(keymgmt) else os.path.join(ROOT, "can_dbc", "keymgmt.dbc")]
    return "qkd-secoc monitor --port %d --config %s --keys %s %s" % (
        port, os.path.join(directory, master + ".json"), os.path.join(directory, "keys.json"),
        " ".join("--dbc " + _short(p) for p in dbcs))


def _short(path):
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _write_json(summary, path):
    with open(path, "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
        f.write("\n")
