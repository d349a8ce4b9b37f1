# `qkd-secoc ota`: agent updates over UDS on the vehicle bus (docs/ota.md).
#   build  an image: the agent's modules as the board freezes them (.mpy
#          for a board, .py for the unix port; host_tools.ota_files), a
#          manifest and its tag under the node's update key (KDF of the
#          fleet's QKD key and the node)
#   push   an image to one ECU with udsoncan over can-isotp on any python-can
#          bus, with a progress bar
#   info   read the version, slot, epoch and version floor (0x22)
# The programming sequence is emulator.uds_tester's; this module parses
# arguments, opens the bus and reports.
import argparse
import glob
import json
import os
import sys
import time

from host_tools.args import int_in
from host_tools.errors import UserError

EPILOG = """examples:
  qkd-secoc emulate scenarios/ota.toml --inline --export out/vehicle   # configs and ota_key.json
  qkd-secoc ota build --board unix --version 1.1.0 --node 2 \\
      --key-file out/vehicle/ota_key.json --out out/eps-1.1.0.ota
  qkd-secoc ota push out/eps-1.1.0.ota --ecu EPS --configs out/vehicle \\
      --interface qkd_socketcand --host 127.0.0.1 --port 29536
  qkd-secoc ota info --node 2 --configs out/vehicle --interface virtual --channel vcan0

--key-file holds the QKD key shared by the fleet backend and the vehicle:
hex, or JSON {"key_id": ..., "key": hex} (then --key-id may be left out).
--configs is a folder of node configurations (`emulate --export`): the
ECU's node number, diagnostic IDs and K_auth, from which the SecurityAccess
key is derived. Keys are never printed.
"""


def add_subparser(subparsers):
    parser = subparsers.add_parser(
        "ota", help="build agent update images and push them over UDS (ISO 14229) on CAN",
        description="Secure over-the-air update of the key agent over UDS on the vehicle bus.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="ota_command", metavar="ACTION", required=True)
    fmt = {"epilog": EPILOG, "formatter_class": argparse.RawDescriptionHelpFormatter}
    b = sub.add_parser("build", help="make an update image for one ECU",
                       description="Make an update image of the agent for one ECU.", **fmt)
    b.add_argument("--board", required=True, help="a board of boards/, or unix (the unix port, .py files)")
    b.add_argument("--version", required=True, help="the image's version, a.b.c")
    b.add_argument("--node", type=int_in(0, 0xFFFF), required=True, help="the target ECU's node number")
    b.add_argument("--key-id", help="the QKD key's ID (from --key-file when it is JSON)")
    b.add_argument("--key-file", required=True, help="the fleet's QKD key: hex or JSON")
    b.add_argument("--role", choices=("both", "slave"), default="both", help="what the image holds")
    b.add_argument("--mpy-arch", metavar="ARCH",
                   help="with --board unix: .mpy files for this architecture (x64, ...) instead of sources")
    b.add_argument("--out", required=True, help="the image file to write")
    b.set_defaults(func=run_build)
    for name, fn, text in (("push", run_push, "send an image to one ECU and activate it"),
                           ("info", run_info, "read an ECU's version, slot and epoch")):
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".", **fmt)
        if name == "push":
            p.add_argument("image", help="the image file (`ota build`)")
        who = p.add_mutually_exclusive_group(required=True)
        who.add_argument("--ecu", help="the ECU's name (its configuration is CONFIGS/NAME.json)")
        who.add_argument("--node", type=int_in(0, 0xFFFF), help="the ECU's node number")
        p.add_argument("--configs", required=True, metavar="DIR", help="folder of node configurations")
        add_bus_arguments(p)
        p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each answer (default 2)")
        p.set_defaults(func=fn)


def add_bus_arguments(p):
    bus = p.add_argument_group("bus (python-can)")
    bus.add_argument("--interface", default="qkd_socketcand",
                     help="python-can interface: qkd_socketcand (the emulator's bus server), socketcan, "
                          "virtual, pcan, ... (default qkd_socketcand)")
    bus.add_argument("--channel", default="can0", help="channel (default can0)")
    bus.add_argument("--bitrate", type=int_in(1, 10_000_000), help="nominal bit rate, bit/s")
    bus.add_argument("--host", default="127.0.0.1", help="socketcand host (default 127.0.0.1)")
    bus.add_argument("--port", type=int_in(1, 65535), default=29536, help="socketcand port (default 29536)")


def run_build(args):
    from host_tools.ota_files import agent_files, read_key_file
    from keyagent.ota import image as I

    if I.version_counter(args.version) is None:
        raise UserError("--version must be a.b.c with numbers 0..999, not %r" % args.version)
    qkd_key, key_id = read_key_file(args.key_file, args.key_id)
    files, arch = agent_files(args.board, args.role, args.mpy_arch)
    data = I.build(files, args.version, args.board, arch, args.node, key_id,
                   I.update_key(qkd_key, args.node, key_id))
    try:
        with open(args.out, "wb") as f:
            f.write(data)
    except OSError as e:
        raise UserError("cannot write %s: %s" % (args.out, e.strerror)) from None
    print("ota image %s: version %s, board %s (%s), node %d, key ID %s, %d files, %d bytes"
          % (args.out, args.version, args.board, arch, args.node, key_id, len(files), len(data)))


def node_config(args):
    if args.ecu is not None:
        paths = [os.path.join(args.configs, args.ecu + ".json")]
    else:
        paths = sorted(glob.glob(os.path.join(args.configs, "*.json")))
    for path in paths:
        try:
            with open(path) as f:
                cfg = json.load(f)
        except OSError:
            continue
        except ValueError:
            raise UserError("%s is not valid JSON" % path) from None
        if isinstance(cfg, dict) and "node" in cfg and (args.node is None or cfg["node"] == args.node):
            return os.path.splitext(os.path.basename(path))[0], cfg
    who = args.ecu if args.ecu is not None else "node %d" % args.node
    raise UserError("no configuration for %s in %s" % (who, args.configs))


def open_client(args, with_key):
    import isotp
    from udsoncan.connections import PythonIsoTpConnection

    from emulator.uds_tester import open_client as uds_client
    from host_tools.commands.monitor import open_bus
    from keyagent.uds.endpoint import diag_ids
    from keyagent.uds.security import diag_key

    name, cfg = node_config(args)
    ids = diag_ids(cfg)
    if ids is None:
        raise UserError("%s has no diagnostic CAN IDs (node %d: set diag_ids)" % (name, cfg["node"]))
    k_diag = None
    if with_key:
        if "auth_key" not in cfg:
            raise UserError("%s's configuration has no auth_key" % name)
        k_diag = diag_key(bytes.fromhex(cfg["auth_key"]), cfg["node"])
    args.fd = False
    args.data_bitrate = None
    bus = open_bus(args)
    stack = isotp.CanStack(bus, address=isotp.Address(isotp.AddressingMode.Normal_11bits, txid=ids[0], rxid=ids[1]),
                           params={"tx_padding": 0xCC, "blocking_send": True})
    client = uds_client(PythonIsoTpConnection(stack), k_diag, p2_s=args.timeout, p2_star_s=max(6.0, args.timeout),
                        request_timeout_s=max(10.0, 3 * args.timeout))
    return name, cfg, ids, bus, client


def _uds_errors(name, ids, fn):
    import can
    from isotp.errors import IsoTpError
    from udsoncan.exceptions import (InvalidResponseException, NegativeResponseException, TimeoutException,
                                     UnexpectedResponseException)

    try:
        return fn()
    except NegativeResponseException as e:
        r = e.response
        raise UserError("%s refused %s: %s (0x%02X)" % (name, r.service.get_name(), r.code_name, r.code)) from None
    except TimeoutException:
        raise UserError("no answer from %s on 0x%03X/0x%03X" % (name, ids[0], ids[1])) from None
    except (InvalidResponseException, UnexpectedResponseException) as e:
        raise UserError("%s answered what UDS does not allow: %s" % (name, e)) from None
    except (IsoTpError, can.CanError, OSError) as e:
        raise UserError("ISO-TP to %s failed: %s %s" % (name, type(e).__name__, e)) from None


class ProgressBar:
    def __init__(self, out=None, width=30):
        self.out = out or sys.stderr
        self.width = width
        self.start = time.monotonic()
        self.shown = -1

    def __call__(self, done, total):
        pct = 100 * done // total
        if pct == self.shown and done < total:
            return  # one update per percent
        self.shown = pct
        filled = self.width * done // total
        rate = done / max(1e-6, time.monotonic() - self.start)
        self.out.write("\r[%s%s] %3d%% %d/%d bytes %.0f B/s" % ("#" * filled, "." * (self.width - filled),
                                                              100 * done // total, done, total, rate))
        if done >= total:
            self.out.write("\n")
        self.out.flush()


def run_push(args):
    from emulator.uds_tester import program
    from keyagent.ota import image as I

    try:
        with open(args.image, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UserError("cannot read %s: %s" % (args.image, e.strerror)) from None
    try:
        head = data[:I.head_length(data)]
        manifest = I.parse_manifest(head[I.HEAD_LEN:-I.TAG_LEN])
    except I.ImageError as e:
        raise UserError("%s is not an update image (%s)" % (args.image, e)) from None
    name, cfg, ids, bus, client = open_client(args, True)
    if manifest["node"] != cfg["node"]:
        print("warning: %s is made for node %d, %s is node %d: the ECU will refuse it"
              % (args.image, manifest["node"], name, cfg["node"]), file=sys.stderr)
    start = time.monotonic()
    try:
        with client:
            _uds_errors(name, ids, lambda: program(client, data, ProgressBar()))
    finally:
        bus.shutdown()
    took = time.monotonic() - start
    print("pushed %s to %s (node %d): version %s, %d bytes in %.1f s (%.0f bytes/s); the ECU restarts "
          "into it on probation" % (args.image, name, cfg["node"], manifest["version"], len(data), took,
                                    len(data) / max(took, 1e-6)))


def run_info(args):
    from emulator.uds_tester import read_info

    name, cfg, ids, bus, client = open_client(args, False)
    try:
        with client:
            info = _uds_errors(name, ids, lambda: read_info(client))
    finally:
        bus.shutdown()
    epoch = "-" if info["epoch"] is None else str(info["epoch"])
    print("%s (node %d): version %s, slot %s, epoch %s, version floor %d, boot %s"
          % (name, cfg["node"], info["version"], info["slot"], epoch, info["floor"], info["boot"]))
