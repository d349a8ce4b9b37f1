# `qkd-secoc bus serve`: an empty emulated CAN / CAN FD bus (500 kbit/s /
# 2 Mbit/s, emulator.bus) paced to the wall clock and served on 127.0.0.1 in
# the socketcand protocol, for MicroPython ECU processes and python-can tools.
import argparse

from host_tools.args import non_negative, port
from host_tools.errors import UserError

EPILOG = """examples:
  qkd-secoc bus serve --port 29536
  qkd-secoc bus serve --port 0 --seconds 60      # any free port, stop after a minute

Clients join with socketcand (channel can0): firmware/unix_ecu.py --bus
127.0.0.1:PORT, or python-can's interface qkd_socketcand. A client's own
frames are not echoed back to it.
"""


def add_subparser(subparsers):
    parser = subparsers.add_parser("bus", help="serve an emulated CAN bus over socketcand",
                                   description="The emulated CAN / CAN FD bus on 127.0.0.1.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="serve an empty emulated bus that socketcand clients share",
                               description="Serve an empty emulated bus (500 kbit/s / 2 Mbit/s) in "
                                           "real time on 127.0.0.1 in the socketcand protocol.",
                               epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--port", type=port, default=29536, help="TCP port (default 29536; 0: any free port)")
    serve.add_argument("--channel", default="can0", help="socketcand channel name (default can0)")
    serve.add_argument("--seconds", type=non_negative, default=None, help="stop after this many seconds")
    serve.add_argument("--seed", type=int, default=1, help="seed of the bus's fault model (default 1)")
    serve.set_defaults(func=run_serve)


def run_serve(args):
    import random

    from emulator.bus import CanBus
    from emulator.bus_server import BusServer
    from emulator.clock import Clock

    try:
        server = BusServer(CanBus(Clock(), random.Random(args.seed)), port=args.port, channel=args.channel)
    except OSError as e:
        raise UserError("cannot serve the bus on 127.0.0.1:%d: %s" % (args.port, e.strerror)) from None
    print("socketcand bus server on 127.0.0.1:%d channel %s" % (server.port, args.channel), flush=True)
    try:
        server.run_realtime(duration_s=args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
