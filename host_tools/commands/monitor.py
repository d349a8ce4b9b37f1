# `qkd-secoc monitor`: a live, passive, SecOC-aware CAN monitor on any
# python-can bus. Verification and rekey following are
# host_tools.secoc_observer's (shared with `trace analyze`); this module opens
# the bus, records the trace and refreshes the table.
import argparse
import shutil
import sys
import time

from host_tools.args import int_in
from host_tools.commands.trace import add_observer_arguments, make_observer
from host_tools.errors import UserError
from host_tools.observer_report import write_json

# socketcand servers (the emulator's bus server among them), read with the
# CAN FD-capable host_tools.socketcand_bus
SOCKETCAND = ("socketcand", "qkd_socketcand")

EPILOG = """examples:
  # the emulator's bus server (qkd-secoc emulate --bus-port 29536 --export out/run)
  qkd-secoc monitor --interface qkd_socketcand --host 127.0.0.1 --port 29536 \\
      --channel can0 --config out/run/GATEWAY.json --keys out/run/keys.json \\
      --dbc can_dbc/vehicle.dbc --dbc can_dbc/keymgmt.dbc --log out/live.blf
  # a SocketCAN adapter, CAN FD
  qkd-secoc monitor --interface socketcan --channel can0 --fd \\
      --config out/run/GATEWAY.json --keys out/run/keys.json --dbc can_dbc/vehicle.dbc

Every --refresh seconds it prints one row per CAN ID: frames, mean rate,
epoch of the last verified frame, counts by verdict (ok, mac_mismatch,
stale_freshness, other), the last verdict and the last verified frame's
signals (IDs in no configuration or DBC, such as the emulator's filler
frames on 0x790-0x7DF, share one row; --all lists them); then the epoch
state and the latest rekey events (ANNOUNCE, ACK, DELIVER, ACTIVATE, switch,
end of grace, fv_trip); on a terminal, cut to its height. Under multi-counter
freshness the FV sync message (CAN ID from the configuration) has its own
row, FvSync (ok, sync_mac_mismatch, sync_stale, sync_malformed), and its
counters rebuild the PDUs' freshness values. It never sends a frame. It follows
rekeys with the key file ({"qkd_keys": {"<key ID hex>": "<key hex>"},
"epoch_keys": {"<epoch>": "<K_epoch hex>"}}, read again when a key is
missing and the file changed) and the slaves' K_auth from the
configuration; keys are never printed. Stop with Ctrl-C, --once N or
--duration S.
"""


def add_subparser(subparsers):
    parser = subparsers.add_parser(
        "monitor", help="live SecOC-aware CAN monitor (verdicts, rates, rekey events)",
        description="Watch a CAN bus: decode signals with the DBC, verify every SecOC PDU "
                    "as a receiving ECU does, follow rekeys, optionally record a BLF/ASC trace.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    bus = parser.add_argument_group("bus (python-can)")
    bus.add_argument("--interface", default="qkd_socketcand",
                     help="python-can interface: qkd_socketcand (socketcand with CAN FD; socketcand means "
                          "the same here), socketcan, virtual, pcan, ... (default qkd_socketcand)")
    bus.add_argument("--channel", default="can0", help="channel (default can0)")
    bus.add_argument("--bitrate", type=int_in(1, 10_000_000), help="nominal bit rate, bit/s")
    bus.add_argument("--data-bitrate", type=int_in(1, 20_000_000), help="CAN FD data phase bit rate, bit/s")
    bus.add_argument("--fd", action="store_true", help="open the bus for CAN FD")
    bus.add_argument("--host", default="127.0.0.1", help="socketcand host (default 127.0.0.1)")
    bus.add_argument("--port", type=int_in(1, 65535), default=29536, help="socketcand port (default 29536)")
    add_observer_arguments(parser)
    parser.add_argument("--log", metavar="FILE", help="record every frame to FILE (.blf or .asc)")
    parser.add_argument("--json", metavar="OUT", help="at the end, write the analysis as JSON to OUT (- for standard output)")
    parser.add_argument("--refresh", type=float, default=1.0, metavar="S",
                        help="seconds between tables (0: only the final one; default 1)")
    parser.add_argument("--events", type=int_in(0, 10_000), default=10, metavar="N",
                        help="rekey events shown per table (default 10)")
    parser.add_argument("--width", type=int_in(40, 10_000), default=160, metavar="N",
                        help="cut table rows to N characters (default 160)")
    parser.add_argument("--all", action="store_true",
                        help="one row per CAN ID, also for IDs in no configuration or DBC (filler traffic)")
    parser.add_argument("--once", type=int_in(1, 1 << 40), metavar="N", help="stop after N frames")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.set_defaults(func=run)


def open_bus(args):
    import can

    kwargs = {"interface": args.interface, "channel": args.channel}
    if args.interface in SOCKETCAND:
        kwargs.update(host=args.host, port=args.port)
    if args.bitrate:
        kwargs["bitrate"] = args.bitrate
    if args.fd:
        kwargs["fd"] = True
    if args.data_bitrate:
        kwargs["data_bitrate"] = args.data_bitrate
    where = "%s:%d" % (args.host, args.port) if args.interface in SOCKETCAND else args.channel
    if args.interface in SOCKETCAND:
        _probe_tcp(args.host, args.port, where)
    try:
        if args.interface in SOCKETCAND:
            # python-can 4.6's socketcand interface drops CAN FD frames
            from host_tools.socketcand_bus import SocketcandFdBus

            del kwargs["interface"]
            return SocketcandFdBus(**kwargs)
        return can.Bus(**kwargs)
    except (can.CanError, OSError, ValueError, ImportError, NotImplementedError) as e:
        raise UserError("cannot open %s bus %s: %s" % (args.interface, where, e)) from None


def _probe_tcp(host, port, where):
    # python-can's socketcand client retries a refused connection for 10 s,
    # logging a warning each time: find out at once instead.
    import socket

    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as e:
        raise UserError("cannot open socketcand bus %s: %s" % (where, e.strerror or e)) from None


def open_log(path):
    import can

    if path is None:
        return None
    if not path.lower().endswith((".blf", ".asc")):
        raise UserError("--log %s: the trace is written as .blf or .asc" % path)
    try:
        return can.BLFWriter(path) if path.lower().endswith(".blf") else can.ASCWriter(path)
    except OSError as e:
        raise UserError("cannot write %s: %s" % (path, e.strerror)) from None


def run(args):
    if args.refresh < 0 or (args.duration is not None and args.duration < 0):
        raise UserError("--refresh and --duration are seconds, not negative")
    # The bus first: a bus that does not open must not truncate an existing
    # --log file; and the key file after it, so that a rekey between the two
    # is either in the file or seen on the bus.
    bus = open_bus(args)
    try:
        obs = make_observer(args)
        log = open_log(args.log)
    except UserError:
        bus.shutdown()
        raise
    out = sys.stdout
    tty = out.isatty()
    start = time.monotonic()
    deadline = None if args.duration is None else start + args.duration
    next_table = start + args.refresh if args.refresh else None
    seen = 0
    try:
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            wait = 0.1
            for t in (deadline, next_table):
                if t is not None:
                    wait = min(wait, max(0.0, t - now))
            msg = bus.recv(timeout=wait)
            if msg is not None and not msg.is_error_frame and not msg.is_remote_frame:
                obs.on_frame(msg.timestamp, msg.arbitration_id, msg.data, msg.is_extended_id)
                if log is not None:
                    log.on_message_received(msg)
                seen += 1
                if args.once is not None and seen >= args.once:
                    break
            if next_table is not None and time.monotonic() >= next_table:
                _show(out, obs, args, tty, time.monotonic() - start)
                next_table += args.refresh
    except KeyboardInterrupt:
        pass  # the ordinary way to stop a live monitor: show the final state
    finally:
        bus.shutdown()
        if log is not None:
            log.stop()
    _show(out, obs, args, False, None)
    if args.json:
        write_json(obs, args.json)
    return 0


def _show(out, obs, args, tty, elapsed):
    if tty:
        out.write("\x1b[H\x1b[2J")  # home and clear: a refreshing table without curses
    if elapsed is None:
        out.write("-- final: %d frames\n" % obs.frames)
    else:
        out.write("-- %.1f s: %d frames\n" % (elapsed, obs.frames))
    # A refreshing table fits the terminal, so that the SecOC rows stay in view.
    height = shutil.get_terminal_size().lines - 1 if tty else None
    out.write(obs.table(max_events=args.events, width=args.width, all_ids=args.all, max_lines=height))
    out.flush()
