# `qkd-secoc network serve NET.toml`: the QKD key network of a description
# (emulator.key_network_spec) in real time on 127.0.0.1, one ETSI GS QKD 014
# HTTPS port (mutual TLS) per KME. Keys between SAEs of different KMEs are
# relayed across the trusted nodes, one-time-padded with each link's keys.
import argparse
import os
import sys

from host_tools.errors import UserError

EPILOG = """examples:
  qkd-secoc network serve scenarios/network.toml --certs pki-net --duration 60
  curl --cacert pki-net/ca.crt --cert pki-net/vehicle-1.crt --key pki-net/vehicle-1.key \\
      'https://localhost:PORT/api/v1/keys/rsu-1/enc_keys?number=1'

The first run writes a test PKI into --certs DIR (a CA, the KME certificate,
one certificate per SAE of the network). A master SAE asks its own KME for
keys naming any SAE of the network as slave; only that slave, at its own
KME, can fetch them by ID.
"""


def add_subparser(subparsers):
    parser = subparsers.add_parser(
        "network", help="QKD key network: KMEs joined by QKD links, trusted-node key relay",
        description="The QKD key network of a description file.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser(
        "serve", help="serve every KME of NET.toml over ETSI 014 HTTPS on 127.0.0.1",
        description="Run the network in real time: one HTTPS port per KME. Prints the ports.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("network", metavar="NET.toml", help="network description (see scenarios/network.toml)")
    serve.add_argument("--certs", metavar="DIR", required=True,
                       help="test PKI directory (written with every SAE of the network if it has no ca.crt)")
    from host_tools.args import int_in, non_negative

    serve.add_argument("--base-port", type=int_in(0, 65535), default=0, metavar="PORT",
                       help="the KMEs listen on PORT, PORT+1, ... in file order (default 0: any free ports)")

    serve.add_argument("--duration", type=non_negative, default=None, metavar="SECONDS",
                       help="stop after this many seconds (default: run until Ctrl-C)")
    serve.set_defaults(func=run_serve)


def load_network(path, clock=None):
    from emulator.key_network import KeyNetwork
    from emulator.key_network_spec import NetworkSpecError, load

    try:
        return KeyNetwork(load(path), clock=clock)
    except NetworkSpecError as e:
        raise UserError(str(e)) from None
    except ValueError as e:  # a link the model cannot take
        raise UserError("%s: %s" % (path, e)) from None


def _pki(directory, saes):
    from emulator.certs import make_certs

    names = {"ca": "ca.crt", "kme_cert": "kme.crt", "kme_key": "kme.key"}
    if not os.path.exists(os.path.join(directory, "ca.crt")):
        try:
            make_certs(directory, saes)
        except OSError as e:
            raise UserError("cannot write to %s: %s" % (directory, e.strerror)) from None
        print("test PKI written to %s (one certificate per SAE)" % directory, flush=True)
    pki = dict((k, os.path.join(directory, v)) for k, v in names.items())
    for path in pki.values():
        if not os.path.isfile(path):
            raise UserError("%s not found (remove %s to have a new PKI written)" % (path, directory))
    return pki


def run_serve(args, out=None):
    import ssl
    import time

    from emulator.key_network_kme import serve_network
    from host_tools.commands.module import wait_until_stopped

    out = out or sys.stdout
    net = load_network(args.network, clock=time.monotonic)
    pki = _pki(args.certs, sorted(net.kme_of))
    try:
        ports = dict((kme, args.base_port + i if args.base_port else 0) for i, kme in enumerate(net.kmes))
        if args.base_port and args.base_port + len(net.kmes) - 1 > 65535:
            raise UserError("--base-port %d leaves no room for %d KMEs" % (args.base_port, len(net.kmes)))
        servers = serve_network(net, pki, ports=ports)
    except ssl.SSLError as e:
        raise UserError("cannot use the certificates in %s: %s" % (args.certs, e.reason or e)) from None
    except OSError as e:
        raise UserError("cannot serve on 127.0.0.1: %s" % (e.strerror or e)) from None
    try:
        served = dict((k["name"], k["saes"]) for k in net.spec["kme"])
        for kme, server in servers.items():
            print("KME %s: https://localhost:%d SAEs %s" % (kme, server.port, ", ".join(served[kme]) or "-"),
                  file=out)
        for ends, pair in net.links.items():
            st = pair.status()
            print("link %s: %.1f km, QBER %.2f %%, %.0f bit/s, %s"
                  % ("-".join(sorted(ends)), pair.link.km, 100 * st["qber"], st["secret_key_rate_bps"],
                     st["link_state"]), file=out)
        print("CA %s" % pki["ca"], file=out, flush=True)
        wait_until_stopped(args.duration, out)
    finally:
        for server in servers.values():
            server.stop()
    c = net.counters
    print("stopped: %d keys issued, %d relayed over %d hops, %d fetched, %d refused"
          % (c["keys_issued"], c["keys_relayed"], c["hops"], c["keys_fetched"], c["refused"]),
          file=out, flush=True)
    return 0
