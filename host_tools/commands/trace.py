# `qkd-secoc trace analyze FILE`: the monitor's SecOC verdicts, offline, for
# a recorded BLF or ASC trace (python-can's readers). The verification and
# rekey following are host_tools.secoc_observer's, shared with the monitor.
import argparse
import sys

from host_tools.errors import UserError
from host_tools.observer_report import write_json

EPILOG = """example:
  qkd-secoc trace analyze out/t.blf --config out/run/GATEWAY.json --keys out/run/keys.json \\
      --dbc can_dbc/vehicle.dbc --dbc can_dbc/keymgmt.dbc --json out/t.json

Prints one row per CAN ID (frames, mean rate, epoch of the last verified
frame, counts by verdict: ok, mac_mismatch, stale_freshness, other; the last
verdict and the last verified frame's signals), the epoch state at the end
and every rekey event with its time in seconds from the first frame. IDs in
neither the configuration nor a DBC (the emulator's filler frames on
0x790-0x7DF that bring the bus to its load) share one summary row; --all
lists them. Under multi-counter freshness the FV sync message has its own
row, FvSync (ok, sync_mac_mismatch, sync_stale, sync_malformed), and its
counters rebuild the PDUs' freshness values.
--json OUT also writes all of it as JSON ("-": to standard output instead
of the table). The key file is {"qkd_keys": {"<key ID hex>": "<key hex>"},
"epoch_keys": {"<epoch>": "<K_epoch hex>"}}; keys are never printed.
"""


def add_subparser(subparsers):
    parser = subparsers.add_parser(
        "trace", help="analyze a recorded CAN trace (SecOC verdicts, rekey events)",
        description="Work on recorded CAN traces (BLF or ASC).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    analyze = actions.add_parser(
        "analyze", help="SecOC verdicts, rates and rekey events of a BLF or ASC trace",
        description="Verify every SecOC PDU of a recorded trace the way a receiving ECU "
                    "does and follow the rekeys in it.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    analyze.add_argument("file", metavar="FILE", help="trace file: .blf or .asc")
    add_observer_arguments(analyze)
    analyze.add_argument("--json", metavar="OUT", help="write the analysis as JSON to OUT ('-': stdout)")
    analyze.add_argument("--all", action="store_true",
                         help="one row per CAN ID, also for IDs in no configuration or DBC (filler traffic)")
    analyze.set_defaults(func=run_analyze)


def add_observer_arguments(parser):
    """The options monitor and trace analyze share."""
    parser.add_argument("--config", required=True, metavar="NODE.json",
                        help="node configuration (docs/rekey-protocol.md): which CAN IDs are SecOC PDUs")
    parser.add_argument("--keys", metavar="KEYS.json",
                        help="key file: QKD key IDs to QKD keys and/or epochs to K_epoch (hex)")
    parser.add_argument("--dbc", action="append", default=[], metavar="FILE",
                        help="DBC file for signal names (repeatable)")


def make_observer(args):
    from host_tools.observer_inputs import Keys, load_config, load_dbcs, load_keys
    from host_tools.secoc_observer import Observer

    config = load_config(args.config)
    keys = load_keys(args.keys) if args.keys else Keys()
    return Observer(config, keys, load_dbcs(args.dbc))


def read_trace(path):
    """The CAN data frames of a BLF or ASC file, as python-can Messages,
    one at a time (a long trace is not held in memory)."""
    import can

    if not path.lower().endswith((".blf", ".asc")):
        raise UserError("%s: only .blf and .asc traces are read" % path)
    try:
        with can.LogReader(path) as reader:
            for m in reader:
                if not m.is_error_frame and not m.is_remote_frame:
                    yield m
    except OSError as e:
        raise UserError("cannot read %s: %s" % (path, e.strerror or e)) from None
    except Exception as e:  # the readers raise assorted errors on a corrupt file
        raise UserError("%s is not a readable trace: %s" % (path, e)) from None


def run_analyze(args):
    obs = make_observer(args)
    for m in read_trace(args.file):
        obs.on_frame(m.timestamp, m.arbitration_id, m.data, m.is_extended_id)
    if args.json != "-":
        sys.stdout.write(obs.table(all_ids=args.all))
    if args.json:
        write_json(obs, args.json)
    return 0
